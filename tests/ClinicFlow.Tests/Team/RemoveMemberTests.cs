using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Team;

/// <summary>RemoveMember: members leave the clinic (tokens revoked at once), open invites are revoked.</summary>
public sealed class RemoveMemberTests(AppFixture app) : TeamTest(app)
{
    private sealed record StoredUser(Guid? ClinicId, string? Role, int TokenVersion);

    private async Task<StoredUser> StoredUserAsync(Guid id) =>
        (await App.QueryAsync<StoredUser>("select clinic_id, role, token_version from users where id = @id", new { id })).Single();

    private Task<IScenarioResult> DeleteAsync(Account caller, Guid id, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Delete.Url($"/api/team/members/{id}");
            s.WithBearerToken(caller.Token);
            s.StatusCodeShouldBe(expected);
        });

    [Fact]
    public async Task Removes_a_member_whose_tokens_stop_working_at_once()
    {
        var admin = await RegisterClinicAsync();
        var doctor = await AddUserAsync(admin, "doctor");
        var linked = Guid.CreateVersion7();
        await App.ExecuteAsync("insert into doctors (id, clinic_id, full_name, user_id) values (@linked, @ClinicId, 'Dr. Linked', @UserId)",
            new { linked, admin.ClinicId, doctor.UserId });
        await MeAsync(doctor.Token, HttpStatusCode.OK);

        await DeleteAsync(admin, doctor.UserId, HttpStatusCode.NoContent);

        Assert.Equal(new StoredUser(null, null, 2), await StoredUserAsync(doctor.UserId));
        await ErrorAsync(await MeAsync(doctor.Token, HttpStatusCode.Unauthorized), ErrorCodes.Unauthenticated);
        // The account remains, without a clinic; the doctor record stays with the clinic, unlinked.
        var again = await LoginAsync(doctor.Email, Password);
        Assert.Null(again.ClinicId);
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from doctors where id = @linked and user_id is not null", new { linked }));
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "team.member_remove");
        Assert.NotNull(audit);
        Assert.Equal(doctor.UserId.ToString(), audit.EntityId);
        Assert.Equal(admin.UserId, audit.ActorId);
    }

    [Fact]
    public async Task Revokes_an_open_invite_by_its_id()
    {
        var admin = await RegisterClinicAsync();
        var (invite, token) = await InviteAsync(admin, NewEmail("revoke"));

        await DeleteAsync(admin, invite.Id, HttpStatusCode.NoContent);
        await DeleteAsync(admin, invite.Id, HttpStatusCode.NoContent);

        await ErrorAsync(await AcceptAsync(token, new { fullName = "Too Late", password = Password }, null, HttpStatusCode.Gone), ErrorCodes.LinkRevoked);
        Assert.Equal(1, await App.ScalarAsync<int>(
            "select count(*)::int from audit_log where clinic_id = @ClinicId and action = 'team.invite_revoke' and entity_id = @Id",
            new { admin.ClinicId, Id = invite.Id.ToString() }));
    }

    [Fact]
    public async Task An_accepted_invite_cannot_be_revoked()
    {
        var admin = await RegisterClinicAsync();
        var (invite, token) = await InviteAsync(admin, NewEmail("accepted"));
        await AcceptAsync(token, new { fullName = "Joined", password = Password }, null, HttpStatusCode.OK);

        await ErrorAsync(await DeleteAsync(admin, invite.Id, HttpStatusCode.Conflict), ErrorCodes.InvalidState);
    }

    [Fact]
    public async Task An_admin_cannot_remove_themself()
    {
        var admin = await RegisterClinicAsync();
        await AddUserAsync(admin, "admin");

        var error = await ErrorAsync(await DeleteAsync(admin, admin.UserId, HttpStatusCode.Conflict), ErrorCodes.Conflict);

        Assert.Contains("yourself", error.Error, StringComparison.Ordinal);
        Assert.Equal(admin.ClinicId, (await StoredUserAsync(admin.UserId)).ClinicId);
    }

    [Fact]
    public async Task Two_admins_removing_each_other_at_once_leave_one_admin()
    {
        var first = await RegisterClinicAsync();
        var second = await AddUserAsync(first, "admin");

        var results = await Task.WhenAll(
            Host.Scenario(s =>
            {
                s.Delete.Url($"/api/team/members/{second.UserId}");
                s.WithBearerToken(first.Token);
                s.IgnoreStatusCode();
            }),
            Host.Scenario(s =>
            {
                s.Delete.Url($"/api/team/members/{first.UserId}");
                s.WithBearerToken(second.Token);
                s.IgnoreStatusCode();
            }));

        var statuses = results.Select(r => r.Context.Response.StatusCode).Order().ToList();
        Assert.Equal(204, statuses[0]);
        // The loser was removed while it waited (403) or before its request began (401).
        Assert.True(statuses[1] is 401 or 403, $"second answer was {statuses[1]}");
        Assert.Equal(1, await App.ScalarAsync<int>(
            "select count(*)::int from users where clinic_id = @ClinicId and role = 'admin' and active", new { first.ClinicId }));
    }

    [Fact]
    public async Task Answers_404_for_another_clinics_member_or_invite_and_leaves_them_alone()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync("Otra");
        var foreign = await AddUserAsync(other, "staff");
        var (foreignInvite, _) = await InviteAsync(other, NewEmail("foreign"));

        await ErrorAsync(await DeleteAsync(admin, foreign.UserId, HttpStatusCode.NotFound), ErrorCodes.NotFound);
        await ErrorAsync(await DeleteAsync(admin, foreignInvite.Id, HttpStatusCode.NotFound), ErrorCodes.NotFound);

        Assert.Equal(other.ClinicId, (await StoredUserAsync(foreign.UserId)).ClinicId);
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from team_invites where id = @Id and revoked_at is not null", new { foreignInvite.Id }));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Delete.Url($"/api/team/members/{Guid.CreateVersion7()}"));
    }

    [Theory]
    [InlineData("doctor")]
    [InlineData("staff")]
    public async Task Refuses_non_admins(string role)
    {
        await AssertRefusedForRoleAsync(role, s => s.Delete.Url($"/api/team/members/{Guid.CreateVersion7()}"));
    }
}
