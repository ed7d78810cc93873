using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Team;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Team;

public sealed class GetInviteTests(AppFixture app) : TeamTest(app)
{
    private Task<IScenarioResult> GetAsync(string token, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Get.Url($"/api/team/invite/{token}");
            s.StatusCodeShouldBe(expected);
        });

    [Fact]
    public async Task Shows_clinic_email_role_and_expiry_without_a_token()
    {
        var admin = await RegisterClinicAsync("Clínica Norte");
        var email = NewEmail("page");
        var (invite, token) = await InviteAsync(admin, email, "doctor");

        var shown = await (await GetAsync(token, HttpStatusCode.OK)).ReadAsJsonAsync<GetInvite.Response>();

        Assert.Equal(new GetInvite.Response("Clínica Norte", email, "doctor", shown.ExpiresAt), shown);
        Assert.Equal(invite.ExpiresAt, shown.ExpiresAt, TimeSpan.FromMilliseconds(1));
        // Reading the page changes nothing.
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from team_invites where id = @Id and accepted_at is not null", new { invite.Id }));
    }

    [Fact]
    public async Task Answers_404_for_an_unknown_token()
    {
        await ErrorAsync(await GetAsync(SecretBox.NewToken(), HttpStatusCode.NotFound), ErrorCodes.NotFound);
    }

    [Fact]
    public async Task Answers_410_link_expired_after_seven_days()
    {
        var admin = await RegisterClinicAsync();
        var (invite, token) = await InviteAsync(admin, NewEmail("late"));
        await App.ExecuteAsync("update team_invites set expires_at = now() - interval '1 second' where id = @Id", new { invite.Id });

        await ErrorAsync(await GetAsync(token, HttpStatusCode.Gone), ErrorCodes.LinkExpired);
    }

    [Fact]
    public async Task Answers_410_link_revoked_once_revoked_or_used()
    {
        var admin = await RegisterClinicAsync();
        var (revoked, revokedToken) = await InviteAsync(admin, NewEmail("revoked"));
        var (_, usedToken) = await InviteAsync(admin, NewEmail("used"));
        await Host.Scenario(s =>
        {
            s.Delete.Url($"/api/team/members/{revoked.Id}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NoContent);
        });
        await AcceptAsync(usedToken, new { fullName = "Used Once", password = Password }, null, HttpStatusCode.OK);

        await ErrorAsync(await GetAsync(revokedToken, HttpStatusCode.Gone), ErrorCodes.LinkRevoked);
        var used = await ErrorAsync(await GetAsync(usedToken, HttpStatusCode.Gone), ErrorCodes.LinkRevoked);
        Assert.Contains("already been used", used.Error, StringComparison.Ordinal);
    }
}
