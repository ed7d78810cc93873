using System.Net;
using System.Text.Json;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Users;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Users;

public sealed class UpdateUserTests(AppFixture app) : ApiTest(app)
{
    private sealed record Stored(string Role, bool Active, string FullName, int TokenVersion);

    private const string StoredSql = "select role, active, full_name, token_version from users where id = @Id";

    private Task<IScenarioResult> PatchAsync(Account caller, Guid id, object body, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Patch.Json(body).ToUrl($"/api/users/{id}");
            s.WithBearerToken(caller.Token);
            s.StatusCodeShouldBe(expected);
        });

    private Task<IScenarioResult> MeAsync(Account account, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Get.Url("/api/auth/me");
            s.WithBearerToken(account.Token);
            s.StatusCodeShouldBe(expected);
        });

    private async Task<Stored> StoredAsync(Guid id) => (await App.QueryAsync<Stored>(StoredSql, new { Id = id })).Single();

    [Fact]
    public async Task Changes_role_and_name_and_revokes_the_users_tokens()
    {
        var admin = await RegisterClinicAsync();
        var staff = await AddUserAsync(admin, "staff");

        var result = await PatchAsync(admin, staff.UserId, new UpdateUser.Request(AppRole.Doctor, null, "Dr. Promoted"), HttpStatusCode.OK);

        var user = await result.ReadAsJsonAsync<UpdateUser.Response>();
        Assert.Equal(staff.UserId, user.Id);
        Assert.Equal("doctor", user.Role);
        Assert.Equal("Dr. Promoted", user.FullName);
        Assert.True(user.Active);
        Assert.Equal(admin.ClinicId, user.ClinicId);
        Assert.Equal(new Stored("doctor", true, "Dr. Promoted", 2), await StoredAsync(staff.UserId));

        var audit = await LastAuditAsync(admin.ClinicId!.Value, "user.update");
        Assert.NotNull(audit);
        Assert.Equal(admin.UserId, audit.ActorId);
        Assert.Equal(staff.UserId.ToString(), audit.EntityId);
        using var changes = JsonDocument.Parse(audit.Changes);
        Assert.Equal("doctor", changes.RootElement.GetProperty("role").GetString());
        Assert.Equal("Dr. Promoted", changes.RootElement.GetProperty("fullName").GetString());
        Assert.False(changes.RootElement.TryGetProperty("active", out _));

        // A token that still says "staff" is stale; signing in again gives the new role.
        await ErrorAsync(await MeAsync(staff, HttpStatusCode.Unauthorized), ErrorCodes.Unauthenticated);
        var again = await LoginAsync(staff.Email, Password);
        await MeAsync(again, HttpStatusCode.OK);
    }

    [Fact]
    public async Task A_name_change_alone_keeps_the_users_tokens()
    {
        var admin = await RegisterClinicAsync();
        var doctor = await AddUserAsync(admin, "doctor");

        await PatchAsync(admin, doctor.UserId, new { fullName = "Dr. Renamed" }, HttpStatusCode.OK);

        Assert.Equal(new Stored("doctor", true, "Dr. Renamed", 1), await StoredAsync(doctor.UserId));
        await MeAsync(doctor, HttpStatusCode.OK);
    }

    [Fact]
    public async Task Deactivating_a_user_locks_them_out()
    {
        var admin = await RegisterClinicAsync();
        var staff = await AddUserAsync(admin, "staff");

        var user = await (await PatchAsync(admin, staff.UserId, new { active = false }, HttpStatusCode.OK)).ReadAsJsonAsync<UpdateUser.Response>();

        Assert.False(user.Active);
        Assert.Equal(new Stored("staff", false, "Test staff", 2), await StoredAsync(staff.UserId));
        // The token version moved on, so the gate refuses the old token before it looks at the active flag.
        await ErrorAsync(await MeAsync(staff, HttpStatusCode.Unauthorized), ErrorCodes.Unauthenticated);
        var login = await Host.Scenario(s =>
        {
            s.Post.Json(new { email = staff.Email, password = Password }).ToUrl("/api/auth/login");
            s.StatusCodeShouldBe(HttpStatusCode.Forbidden);
        });
        await ErrorAsync(login, ErrorCodes.UserInactive);
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "user.update");
        using var changes = JsonDocument.Parse(audit!.Changes);
        Assert.False(changes.RootElement.GetProperty("active").GetBoolean());
    }

    [Fact]
    public async Task An_inactive_user_with_a_current_token_gets_user_inactive()
    {
        var admin = await RegisterClinicAsync();
        var staff = await AddUserAsync(admin, "staff");
        await App.ExecuteAsync("update users set active = false where id = @UserId", new { staff.UserId });

        await ErrorAsync(await MeAsync(staff, HttpStatusCode.Forbidden), ErrorCodes.UserInactive);
    }

    [Fact]
    public async Task Reactivates_a_user()
    {
        var admin = await RegisterClinicAsync();
        var staff = await AddUserAsync(admin, "staff");
        await PatchAsync(admin, staff.UserId, new { active = false }, HttpStatusCode.OK);

        var user = await (await PatchAsync(admin, staff.UserId, new { active = true }, HttpStatusCode.OK)).ReadAsJsonAsync<UpdateUser.Response>();

        Assert.True(user.Active);
        await LoginAsync(staff.Email, Password);
    }

    [Theory]
    [InlineData("{\"role\":\"doctor\"}")]
    [InlineData("{\"active\":false}")]
    public async Task Refuses_to_demote_or_deactivate_the_last_admin(string body)
    {
        var admin = await RegisterClinicAsync();
        await AddUserAsync(admin, "doctor");

        var result = await Host.Scenario(s =>
        {
            s.Patch.Text(body).ToUrl($"/api/users/{admin.UserId}");
            s.WithRequestHeader("Content-Type", "application/json");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Conflict);
        });

        var error = await ErrorAsync(result, ErrorCodes.Conflict);
        Assert.Contains("last active admin", error.Error, StringComparison.Ordinal);
        Assert.Equal(new Stored("admin", true, "Ada Admin", 1), await StoredAsync(admin.UserId));
        await MeAsync(admin, HttpStatusCode.OK);
    }

    [Fact]
    public async Task An_inactive_admin_does_not_count_as_the_remaining_admin()
    {
        var admin = await RegisterClinicAsync();
        var second = await AddUserAsync(admin, "admin");
        await PatchAsync(admin, second.UserId, new { active = false }, HttpStatusCode.OK);

        var result = await PatchAsync(admin, admin.UserId, new { role = "staff" }, HttpStatusCode.Conflict);

        await ErrorAsync(result, ErrorCodes.Conflict);
    }

    [Fact]
    public async Task Demotes_an_admin_while_another_active_admin_remains()
    {
        var admin = await RegisterClinicAsync();
        var second = await AddUserAsync(admin, "admin");

        var user = await (await PatchAsync(admin, second.UserId, new { role = "staff" }, HttpStatusCode.OK)).ReadAsJsonAsync<UpdateUser.Response>();

        Assert.Equal("staff", user.Role);
    }

    [Fact]
    public async Task Two_admins_demoting_each_other_at_once_leave_one_admin()
    {
        var first = await RegisterClinicAsync();
        var second = await AddUserAsync(first, "admin");

        var results = await Task.WhenAll(
            Host.Scenario(s =>
            {
                s.Patch.Json(new { role = "staff" }).ToUrl($"/api/users/{second.UserId}");
                s.WithBearerToken(first.Token);
                s.IgnoreStatusCode();
            }),
            Host.Scenario(s =>
            {
                s.Patch.Json(new { role = "staff" }).ToUrl($"/api/users/{first.UserId}");
                s.WithBearerToken(second.Token);
                s.IgnoreStatusCode();
            }));

        var statuses = results.Select(r => r.Context.Response.StatusCode).Order().ToList();
        // Whoever is second either finds itself demoted (stale token: 401) or the other one already gone (409).
        Assert.Equal(200, statuses[0]);
        Assert.True(statuses[1] is 401 or 409, $"second answer was {statuses[1]}");
        Assert.Equal(1, await App.ScalarAsync<int>(
            "select count(*)::int from users where clinic_id = @ClinicId and role = 'admin' and active", new { first.ClinicId }));
    }

    [Fact]
    public async Task Reactivation_respects_the_plans_user_limit()
    {
        var admin = await RegisterClinicAsync();
        await App.ExecuteAsync("update clinics set plan = 'basic' where id = @ClinicId", new { admin.ClinicId });
        var staff = await AddUserAsync(admin, "staff");
        await PatchAsync(admin, staff.UserId, new { active = false }, HttpStatusCode.OK);
        for (var i = 0; i < 4; i++)
        {
            await AddUserAsync(admin, "staff");
        }

        var result = await PatchAsync(admin, staff.UserId, new { active = true }, HttpStatusCode.Forbidden);

        await ErrorAsync(result, ErrorCodes.UserLimitReached);
        Assert.False((await StoredAsync(staff.UserId)).Active);
    }

    [Fact]
    public async Task Answers_404_for_another_clinics_user_and_leaves_it_alone()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync("Other clinic");
        var foreign = await AddUserAsync(other, "staff");

        var result = await PatchAsync(admin, foreign.UserId, new { active = false }, HttpStatusCode.NotFound);

        await ErrorAsync(result, ErrorCodes.NotFound);
        Assert.True((await StoredAsync(foreign.UserId)).Active);
        await ErrorAsync(await PatchAsync(admin, Guid.CreateVersion7(), new { active = false }, HttpStatusCode.NotFound), ErrorCodes.NotFound);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s =>
        {
            s.Patch.Json(new { active = false }).ToUrl($"/api/users/{Guid.CreateVersion7()}");
        });
    }

    [Theory]
    [InlineData("doctor")]
    [InlineData("staff")]
    public async Task Refuses_non_admins(string role)
    {
        var admin = await RegisterClinicAsync();
        var member = await AddUserAsync(admin, role);

        var result = await PatchAsync(member, admin.UserId, new { active = false }, HttpStatusCode.Forbidden);

        await ErrorAsync(result, ErrorCodes.Forbidden);
        Assert.True((await StoredAsync(admin.UserId)).Active);
    }

    [Fact]
    public async Task Rejects_bad_input_with_details()
    {
        var admin = await RegisterClinicAsync();
        var staff = await AddUserAsync(admin, "staff");

        var result = await PatchAsync(admin, staff.UserId, new { fullName = "" }, HttpStatusCode.BadRequest);

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Contains("fullName", error.Details!.Keys);
    }
}
