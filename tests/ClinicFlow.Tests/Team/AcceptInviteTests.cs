using System.Net;
using System.Text.Json;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Auth;
using ClinicFlow.Slices.Team;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Team;

public sealed class AcceptInviteTests(AppFixture app) : TeamTest(app)
{
    private sealed record StoredUser(Guid? ClinicId, string? Role, string FullName, string Locale);

    private async Task<StoredUser> StoredUserAsync(Guid id) =>
        (await App.QueryAsync<StoredUser>("select clinic_id, role, full_name, locale from users where id = @id", new { id })).Single();

    [Fact]
    public async Task A_new_user_follows_the_mailed_link_joins_with_the_invites_role_and_gets_a_token()
    {
        var admin = await RegisterClinicAsync("Clínica Este");
        var email = NewEmail("newbie");
        var (invite, token) = await InviteAsync(admin, email, "doctor");

        var result = await AcceptAsync(token, new AcceptInvite.Request("Dra. Nueva", Password), null, HttpStatusCode.OK);

        var session = await result.ReadAsJsonAsync<AuthRules.Session>();
        Assert.Equal(email, session.User.Email);
        Assert.Equal("doctor", session.User.Role);
        Assert.Equal(admin.ClinicId, session.User.ClinicId);
        Assert.Equal("Clínica Este", session.Clinic!.Name);
        Assert.Equal(new StoredUser(admin.ClinicId, "doctor", "Dra. Nueva", "es"), await StoredUserAsync(session.User.Id));
        Assert.Equal(session.User.Id, await App.ScalarAsync<Guid>(
            "select accepted_by from team_invites where id = @Id and accepted_at is not null", new { invite.Id }));
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "team.invite_accept");
        Assert.NotNull(audit);
        Assert.Equal(session.User.Id, audit.ActorId);
        Assert.Equal(invite.Id.ToString(), audit.EntityId);
        using (var changes = JsonDocument.Parse(audit.Changes))
        {
            Assert.True(changes.RootElement.GetProperty("newAccount").GetBoolean());
        }

        await MeAsync(session.Token, HttpStatusCode.OK);
        await LoginAsync(email, Password);
    }

    [Fact]
    public async Task The_link_works_once()
    {
        var admin = await RegisterClinicAsync();
        var (_, token) = await InviteAsync(admin, NewEmail("once"));
        await AcceptAsync(token, new AcceptInvite.Request("First", Password), null, HttpStatusCode.OK);

        var again = await AcceptAsync(token, new AcceptInvite.Request("Second", Password), null, HttpStatusCode.Gone);

        await ErrorAsync(again, ErrorCodes.LinkRevoked);
        Assert.Equal(2, await App.ScalarAsync<int>("select count(*)::int from users where clinic_id = @ClinicId", new { admin.ClinicId }));
    }

    [Fact]
    public async Task Of_two_concurrent_accepts_one_joins()
    {
        var admin = await RegisterClinicAsync();
        var (_, token) = await InviteAsync(admin, NewEmail("race"));

        var results = await Task.WhenAll(Enumerable.Range(0, 2).Select(i => Host.Scenario(s =>
        {
            s.Post.Json(new AcceptInvite.Request($"Racer {i}", Password)).ToUrl($"/api/team/invite/{token}/accept");
            s.IgnoreStatusCode();
        })));

        Assert.Equal([200, 410], results.Select(r => r.Context.Response.StatusCode).Order());
        Assert.Equal(2, await App.ScalarAsync<int>("select count(*)::int from users where clinic_id = @ClinicId", new { admin.ClinicId }));
    }

    [Fact]
    public async Task An_expired_link_answers_410_and_creates_nobody()
    {
        var admin = await RegisterClinicAsync();
        var email = NewEmail("expired");
        var (invite, token) = await InviteAsync(admin, email);
        await App.ExecuteAsync("update team_invites set expires_at = now() - interval '1 second' where id = @Id", new { invite.Id });

        await ErrorAsync(await AcceptAsync(token, new AcceptInvite.Request("Late", Password), null, HttpStatusCode.Gone), ErrorCodes.LinkExpired);
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from users where email = @email::citext", new { email }));
    }

    [Fact]
    public async Task An_unknown_link_answers_404()
    {
        await ErrorAsync(await AcceptAsync(SecretBox.NewToken(), new AcceptInvite.Request("Nobody", Password), null, HttpStatusCode.NotFound),
            ErrorCodes.NotFound);
    }

    [Fact]
    public async Task A_signed_in_user_without_a_clinic_joins_and_gets_a_token_with_the_clinic()
    {
        var admin = await RegisterClinicAsync();
        var solo = await RegisterWithoutClinicAsync();
        var (invite, token) = await InviteAsync(admin, solo.Email, "staff");

        var result = await AcceptAsync(token, null, solo.Token, HttpStatusCode.OK);

        var session = await result.ReadAsJsonAsync<AuthRules.Session>();
        Assert.Equal(solo.UserId, session.User.Id);
        Assert.Equal("staff", session.User.Role);
        Assert.Equal(admin.ClinicId, session.User.ClinicId);
        Assert.Equal(admin.ClinicId, (await StoredUserAsync(solo.UserId)).ClinicId);
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "team.invite_accept");
        Assert.Equal(invite.Id.ToString(), audit!.EntityId);
        Assert.Equal(solo.UserId, audit.ActorId);
        await MeAsync(session.Token, HttpStatusCode.OK);
        // The token from before joining names no clinic: it is stale now.
        await MeAsync(solo.Token, HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task A_user_who_already_belongs_to_a_clinic_gets_409_and_the_link_stays_open()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync("Otra clínica");
        var (invite, token) = await InviteAsync(admin, other.Email);

        await ErrorAsync(await AcceptAsync(token, null, other.Token, HttpStatusCode.Conflict), ErrorCodes.AlreadyExists);

        // Nor may the same address sign up anew through the link.
        await ErrorAsync(await AcceptAsync(token, new AcceptInvite.Request("Twin", Password), null, HttpStatusCode.Conflict),
            ErrorCodes.AlreadyExists);
        Assert.Equal(other.ClinicId, (await StoredUserAsync(other.UserId)).ClinicId);
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from team_invites where id = @Id and accepted_at is not null", new { invite.Id }));
    }

    [Fact]
    public async Task An_invalid_bearer_token_answers_401()
    {
        var admin = await RegisterClinicAsync();
        var (_, token) = await InviteAsync(admin, NewEmail("bearer"));

        await ErrorAsync(await AcceptAsync(token, null, "not-a-jwt", HttpStatusCode.Unauthorized), ErrorCodes.Unauthenticated);
    }

    [Fact]
    public async Task A_new_user_needs_a_name_and_a_strong_password()
    {
        var admin = await RegisterClinicAsync();
        var (invite, token) = await InviteAsync(admin, NewEmail("weak"));

        var result = await AcceptAsync(token, new { fullName = "", password = "password123" }, null, HttpStatusCode.BadRequest);

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Contains("fullName", error.Details!.Keys);
        Assert.Contains("password", error.Details.Keys);
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from team_invites where id = @Id and accepted_at is not null", new { invite.Id }));
    }

    [Fact]
    public async Task A_malformed_body_answers_invalid_json_and_keeps_the_link()
    {
        var admin = await RegisterClinicAsync();
        var (invite, token) = await InviteAsync(admin, NewEmail("malformed"));

        var result = await Host.Scenario(s =>
        {
            s.Post.Text("{\"fullName\": ").ToUrl($"/api/team/invite/{token}/accept");
            s.WithRequestHeader("Content-Type", "application/json");
            s.StatusCodeShouldBe(HttpStatusCode.BadRequest);
        });

        await ErrorAsync(result, ErrorCodes.InvalidJson);
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from team_invites where id = @Id and accepted_at is not null", new { invite.Id }));
    }
}
