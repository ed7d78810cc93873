using System.Net;
using System.Text.Json;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Team;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Team;

public sealed class ChangeMemberRoleTests(AppFixture app) : TeamTest(app)
{
    private Task<IScenarioResult> PatchAsync(Account caller, Guid userId, object body, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Patch.Json(body).ToUrl($"/api/team/members/{userId}/role");
            s.WithBearerToken(caller.Token);
            s.StatusCodeShouldBe(expected);
        });

    private async Task<(string Role, int TokenVersion)> StoredAsync(Guid id) =>
        (await App.QueryAsync<(string Role, int TokenVersion)>("select role, token_version from users where id = @id", new { id })).Single();

    [Fact]
    public async Task Changes_a_members_role_revokes_their_tokens_and_audits_it()
    {
        var admin = await RegisterClinicAsync();
        var staff = await AddUserAsync(admin, "staff");

        var result = await PatchAsync(admin, staff.UserId, new ChangeMemberRole.Request(AppRole.Doctor), HttpStatusCode.OK);

        var member = await result.ReadAsJsonAsync<ChangeMemberRole.Response>();
        Assert.Equal(new ChangeMemberRole.Response(staff.UserId, staff.Email, "Test staff", "doctor", true), member);
        Assert.Equal(("doctor", 2), await StoredAsync(staff.UserId));
        await ErrorAsync(await MeAsync(staff.Token, HttpStatusCode.Unauthorized), ErrorCodes.Unauthenticated);
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "team.member_role");
        Assert.NotNull(audit);
        Assert.Equal(staff.UserId.ToString(), audit.EntityId);
        using var changes = JsonDocument.Parse(audit.Changes);
        Assert.Equal("staff", changes.RootElement.GetProperty("from").GetString());
        Assert.Equal("doctor", changes.RootElement.GetProperty("to").GetString());
    }

    [Fact]
    public async Task Setting_the_same_role_changes_nothing()
    {
        var admin = await RegisterClinicAsync();
        var staff = await AddUserAsync(admin, "staff");

        await PatchAsync(admin, staff.UserId, new { role = "staff" }, HttpStatusCode.OK);

        Assert.Equal(("staff", 1), await StoredAsync(staff.UserId));
        Assert.Null(await LastAuditAsync(admin.ClinicId!.Value, "team.member_role"));
        await MeAsync(staff.Token, HttpStatusCode.OK);
    }

    [Fact]
    public async Task Refuses_to_demote_the_last_active_admin()
    {
        var admin = await RegisterClinicAsync();
        var second = await AddUserAsync(admin, "admin");
        await App.ExecuteAsync("update users set active = false where id = @UserId", new { second.UserId });

        var error = await ErrorAsync(await PatchAsync(admin, admin.UserId, new { role = "doctor" }, HttpStatusCode.Conflict), ErrorCodes.Conflict);

        Assert.Contains("active admin", error.Error, StringComparison.Ordinal);
        Assert.Equal(("admin", 1), await StoredAsync(admin.UserId));
    }

    [Fact]
    public async Task Two_admins_demoting_each_other_at_once_leave_one_admin()
    {
        var first = await RegisterClinicAsync();
        var second = await AddUserAsync(first, "admin");

        var results = await Task.WhenAll(
            Host.Scenario(s =>
            {
                s.Patch.Json(new { role = "staff" }).ToUrl($"/api/team/members/{second.UserId}/role");
                s.WithBearerToken(first.Token);
                s.IgnoreStatusCode();
            }),
            Host.Scenario(s =>
            {
                s.Patch.Json(new { role = "staff" }).ToUrl($"/api/team/members/{first.UserId}/role");
                s.WithBearerToken(second.Token);
                s.IgnoreStatusCode();
            }));

        var statuses = results.Select(r => r.Context.Response.StatusCode).Order().ToList();
        Assert.Equal(200, statuses[0]);
        Assert.True(statuses[1] is 401 or 403, $"second answer was {statuses[1]}");
        Assert.Equal(1, await App.ScalarAsync<int>(
            "select count(*)::int from users where clinic_id = @ClinicId and role = 'admin' and active", new { first.ClinicId }));
    }

    [Fact]
    public async Task Answers_404_for_another_clinics_member_and_leaves_them_alone()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync("Otra");
        var foreign = await AddUserAsync(other, "staff");

        await ErrorAsync(await PatchAsync(admin, foreign.UserId, new { role = "admin" }, HttpStatusCode.NotFound), ErrorCodes.NotFound);

        Assert.Equal(("staff", 1), await StoredAsync(foreign.UserId));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Patch.Json(new { role = "staff" }).ToUrl($"/api/team/members/{Guid.CreateVersion7()}/role"));
    }

    [Theory]
    [InlineData("doctor")]
    [InlineData("staff")]
    public async Task Refuses_non_admins(string role)
    {
        await AssertRefusedForRoleAsync(role, s => s.Patch.Json(new { role = "admin" }).ToUrl($"/api/team/members/{Guid.CreateVersion7()}/role"));
    }

    [Fact]
    public async Task Rejects_a_missing_role_with_details()
    {
        var admin = await RegisterClinicAsync();
        var staff = await AddUserAsync(admin, "staff");

        var error = await ErrorAsync(await PatchAsync(admin, staff.UserId, new { }, HttpStatusCode.BadRequest), ErrorCodes.ValidationError);

        Assert.Contains("role", error.Details!.Keys);
    }
}
