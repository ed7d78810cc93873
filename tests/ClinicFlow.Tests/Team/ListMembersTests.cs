using System.Net;
using ClinicFlow.Slices.Team;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Team;

public sealed class ListMembersTests(AppFixture app) : TeamTest(app)
{
    [Fact]
    public async Task Lists_the_clinics_users_and_only_its_open_invites()
    {
        var admin = await RegisterClinicAsync();
        var staff = await AddUserAsync(admin, "staff");
        var (open, _) = await InviteAsync(admin, NewEmail("open"), "doctor");
        var (revoked, _) = await InviteAsync(admin, NewEmail("revoked"));
        var (expired, _) = await InviteAsync(admin, NewEmail("expired"));
        await App.ExecuteAsync("update team_invites set revoked_at = now() where id = @Id", new { revoked.Id });
        await App.ExecuteAsync("update team_invites set expires_at = now() - interval '1 second' where id = @Id", new { expired.Id });
        var other = await RegisterClinicAsync("Otra");
        await AddUserAsync(other, "staff");
        await InviteAsync(other, NewEmail("foreign"));

        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/team/members");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var team = await result.ReadAsJsonAsync<ListMembers.Response>();
        Assert.Equal([admin.UserId, staff.UserId], team.Members.Select(m => m.Id));
        Assert.Equal("admin", team.Members[0].Role);
        Assert.Equal(staff.Email, team.Members[1].Email);
        var invite = Assert.Single(team.Invites);
        Assert.Equal(open.Id, invite.Id);
        Assert.Equal("doctor", invite.Role);
        Assert.Equal(admin.UserId, invite.InvitedBy);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Get.Url("/api/team/members"));
    }

    [Theory]
    [InlineData("doctor")]
    [InlineData("staff")]
    public async Task Refuses_non_admins(string role)
    {
        await AssertRefusedForRoleAsync(role, s => s.Get.Url("/api/team/members"));
    }
}
