using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Team;
using ClinicFlow.Slices.Users;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Team;

public sealed class InviteMemberTests(AppFixture app) : TeamTest(app)
{
    private sealed record StoredInvite(Guid ClinicId, string Email, string Role, byte[] TokenHash, DateTimeOffset ExpiresAt,
        Guid? InvitedBy, DateTimeOffset? RevokedAt);

    private const string StoredSql = """
        select clinic_id, email::text as email, role, token_hash, expires_at, invited_by, revoked_at
        from team_invites where id = @Id
        """;

    private Task<IScenarioResult> PostAsync(Account caller, object body, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Post.Json(body).ToUrl("/api/team/invite");
            s.WithBearerToken(caller.Token);
            s.StatusCodeShouldBe(expected);
        });

    [Fact]
    public async Task Invites_by_mail_in_the_clinics_language_with_a_single_use_link_stored_hashed()
    {
        var admin = await RegisterClinicAsync("Clínica Sonrisa");
        var email = NewEmail("invitee");

        var (invite, token) = await InviteAsync(admin, email, "doctor");

        Assert.Equal(email, invite.Email);
        Assert.Equal("doctor", invite.Role);
        Assert.Equal("pending", invite.Status);
        Assert.Equal(admin.UserId, invite.InvitedBy);
        Assert.InRange(invite.ExpiresAt, DateTimeOffset.UtcNow.AddDays(7).AddMinutes(-2), DateTimeOffset.UtcNow.AddDays(7).AddMinutes(2));
        // 192 random bits, URL-safe; only its SHA-256 is kept.
        Assert.Equal(32, token.Length);
        var stored = (await App.QueryAsync<StoredInvite>(StoredSql, new { invite.Id })).Single();
        Assert.Equal(admin.ClinicId, stored.ClinicId);
        Assert.Equal(SecretBox.Hash(token), stored.TokenHash);
        Assert.Null(stored.RevokedAt);

        var mail = await MailAsync(email);
        Assert.Contains("unirse a Clínica Sonrisa", mail.Text, StringComparison.Ordinal);
        Assert.Contains(AppFixture.PublicBaseUrl + "/invite/" + token, mail.Text, StringComparison.Ordinal);
        Assert.Contains("médico", mail.Text, StringComparison.Ordinal);

        var audit = await LastAuditAsync(admin.ClinicId!.Value, "team.invite");
        Assert.NotNull(audit);
        Assert.Equal(invite.Id.ToString(), audit.EntityId);
        Assert.Equal(admin.UserId, audit.ActorId);
        Assert.DoesNotContain(token, audit.Changes, StringComparison.Ordinal);

        // Following the link from the mail shows the invite.
        var page = await Host.Scenario(s =>
        {
            s.Get.Url($"/api/team/invite/{token}");
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        var shown = await page.ReadAsJsonAsync<GetInvite.Response>();
        Assert.Equal("Clínica Sonrisa", shown.ClinicName);
        Assert.Equal(email, shown.Email);
    }

    [Fact]
    public async Task Writes_the_mail_in_german_for_a_german_clinic()
    {
        var admin = await RegisterClinicAsync("Praxis Zahnweh", "DE");
        var email = NewEmail("de");

        await InviteAsync(admin, email, "staff");

        var mail = await MailAsync(email);
        Assert.Contains("Empfang", mail.Text, StringComparison.Ordinal);
        Assert.Contains("nur einmal verwendbar", mail.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Inviting_again_replaces_the_open_invite_and_revokes_its_link()
    {
        var admin = await RegisterClinicAsync();
        var email = NewEmail("twice");
        var (first, oldToken) = await InviteAsync(admin, email, "staff");

        var (second, newToken) = await InviteAsync(admin, email, "doctor");

        Assert.NotEqual(first.Id, second.Id);
        Assert.NotEqual(oldToken, newToken);
        Assert.NotNull((await App.QueryAsync<StoredInvite>(StoredSql, new { first.Id })).Single().RevokedAt);
        var old = await Host.Scenario(s =>
        {
            s.Get.Url($"/api/team/invite/{oldToken}");
            s.StatusCodeShouldBe(HttpStatusCode.Gone);
        });
        await ErrorAsync(old, ErrorCodes.LinkRevoked);
        Assert.Equal(1, await App.ScalarAsync<int>(
            "select count(*)::int from team_invites where clinic_id = @ClinicId and revoked_at is null", new { admin.ClinicId }));
    }

    [Fact]
    public async Task Refuses_to_invite_an_existing_member()
    {
        var admin = await RegisterClinicAsync();
        var staff = await AddUserAsync(admin, "staff");

        var result = await PostAsync(admin, new { email = staff.Email.ToUpperInvariant(), role = "doctor" }, HttpStatusCode.Conflict);

        await ErrorAsync(result, ErrorCodes.AlreadyExists);
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from team_invites where clinic_id = @ClinicId", new { admin.ClinicId }));
    }

    [Fact]
    public async Task Open_invites_take_seats_of_the_user_limit()
    {
        var admin = await RegisterClinicAsync();
        await UsePlanAsync(admin.ClinicId, "basic");
        for (var i = 0; i < 3; i++)
        {
            await AddUserAsync(admin, "staff");
        }

        await InviteAsync(admin, NewEmail("fifth"));

        var invite = await PostAsync(admin, new { email = NewEmail("sixth"), role = "staff" }, HttpStatusCode.Forbidden);
        await ErrorAsync(invite, ErrorCodes.UserLimitReached);
        var user = await Host.Scenario(s =>
        {
            s.Post.Json(new CreateUser.Request(NewEmail("direct"), "Direct", AppRole.Staff, Password, null, null)).ToUrl("/api/users");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Forbidden);
        });
        await ErrorAsync(user, ErrorCodes.UserLimitReached);
    }

    [Fact]
    public async Task Expired_and_revoked_invites_free_their_seat_and_a_superadmin_override_wins()
    {
        var admin = await RegisterClinicAsync();
        await UsePlanAsync(admin.ClinicId, "basic");
        for (var i = 0; i < 4; i++)
        {
            await InviteAsync(admin, NewEmail("seat"));
        }

        await ErrorAsync(await PostAsync(admin, new { email = NewEmail("full"), role = "staff" }, HttpStatusCode.Forbidden),
            ErrorCodes.UserLimitReached);
        await App.ExecuteAsync("""
            update team_invites set expires_at = now() - interval '1 minute'
            where id = (select id from team_invites where clinic_id = @ClinicId order by id limit 1)
            """, new { admin.ClinicId });
        await InviteAsync(admin, NewEmail("freed"));

        await App.ExecuteAsync("update clinics set max_users_override = 7 where id = @ClinicId", new { admin.ClinicId });
        await InviteAsync(admin, NewEmail("override-1"));
        await InviteAsync(admin, NewEmail("override-2"));
        await ErrorAsync(await PostAsync(admin, new { email = NewEmail("override-3"), role = "staff" }, HttpStatusCode.Forbidden),
            ErrorCodes.UserLimitReached);
    }

    [Fact]
    public async Task Twenty_concurrent_invites_at_the_limit_yield_exactly_the_free_seats()
    {
        var admin = await RegisterClinicAsync();
        await UsePlanAsync(admin.ClinicId, "basic");
        await AddUserAsync(admin, "staff");

        // 5 seats, 2 taken: 3 of the 20 racers get one.
        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => Host.Scenario(s =>
        {
            s.Post.Json(new { email = NewEmail($"racer{i}"), role = "staff" }).ToUrl("/api/team/invite");
            s.WithBearerToken(admin.Token);
            s.IgnoreStatusCode();
        })));

        var statuses = results.Select(r => r.Context.Response.StatusCode).ToList();
        Assert.Equal(3, statuses.Count(s => s == 201));
        Assert.Equal(17, statuses.Count(s => s == 403));
        Assert.Equal(3, await App.ScalarAsync<int>(
            "select count(*)::int from team_invites where clinic_id = @ClinicId and revoked_at is null", new { admin.ClinicId }));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Post.Json(new { email = NewEmail(), role = "staff" }).ToUrl("/api/team/invite"));
    }

    [Theory]
    [InlineData("doctor")]
    [InlineData("staff")]
    public async Task Refuses_non_admins(string role)
    {
        await AssertRefusedForRoleAsync(role, s => s.Post.Json(new { email = NewEmail(), role = "staff" }).ToUrl("/api/team/invite"));
    }

    [Fact]
    public async Task Rejects_bad_input_with_details()
    {
        var admin = await RegisterClinicAsync();

        var result = await PostAsync(admin, new { email = "not-an-email" }, HttpStatusCode.BadRequest);

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Contains("email", error.Details!.Keys);
        Assert.Contains("role", error.Details.Keys);
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from team_invites where clinic_id = @ClinicId", new { admin.ClinicId }));
    }
}
