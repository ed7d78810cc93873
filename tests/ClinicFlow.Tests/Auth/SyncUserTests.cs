using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Auth;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Auth;

public sealed class SyncUserTests(AppFixture app) : ApiTest(app)
{
    private sealed record Stored(Guid? ClinicId, string? Role, string? PasswordHash, string? Provider, string? ExternalId, string FullName);

    private const string StoredSql = "select clinic_id, role, password_hash, provider, external_id, full_name from users where id = @Id";

    private Task<IScenarioResult> SyncAsync(SyncUser.Request request, HttpStatusCode expected, string? secret = AppFixture.SyncSecret) =>
        Host.Scenario(s =>
        {
            s.Post.Json(request).ToUrl("/api/auth/sync");
            if (secret is not null)
            {
                s.WithRequestHeader("x-auth-secret", secret);
            }

            s.StatusCodeShouldBe(expected);
        });

    [Fact]
    public async Task Creates_a_user_without_clinic_and_signs_them_in()
    {
        var email = NewEmail("oauth");
        var externalId = "google-" + Guid.NewGuid();

        var result = await SyncAsync(new SyncUser.Request(externalId, email, "Olivia OAuth", "google"), HttpStatusCode.Created);

        var session = await result.ReadAsJsonAsync<AuthRules.Session>();
        Assert.Equal(email, session.User.Email);
        Assert.Equal("Olivia OAuth", session.User.FullName);
        Assert.Null(session.User.ClinicId);
        Assert.Null(session.User.Role);
        Assert.Null(session.Clinic);
        var stored = (await App.QueryAsync<Stored>(StoredSql, new { session.User.Id })).Single();
        Assert.Null(stored.ClinicId);
        Assert.Null(stored.Role);
        Assert.Null(stored.PasswordHash);
        Assert.Equal("google", stored.Provider);
        Assert.Equal(externalId, stored.ExternalId);

        var audit = (await App.QueryAsync<AuditRow>("""
            select action, entity_type, entity_id, actor_id, actor_type, changes::text as changes
            from audit_log where clinic_id = @Chain and action = 'user.sync' and entity_id = @Id
            """, new { Chain = Audit.PlatformChain, Id = session.User.Id.ToString() })).Single();
        Assert.Equal(session.User.Id, audit.ActorId);

        await Host.Scenario(s =>
        {
            s.Get.Url("/api/auth/me");
            s.WithBearerToken(session.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
    }

    [Fact]
    public async Task Finds_the_same_user_again_by_external_id_and_updates_the_name()
    {
        var externalId = "apple-" + Guid.NewGuid();
        var email = NewEmail("oauth");
        var first = await (await SyncAsync(new SyncUser.Request(externalId, email, "First Name", "apple"), HttpStatusCode.Created))
            .ReadAsJsonAsync<AuthRules.Session>();

        var again = await (await SyncAsync(new SyncUser.Request(externalId, email, "Second Name", "Apple"), HttpStatusCode.OK))
            .ReadAsJsonAsync<AuthRules.Session>();

        Assert.Equal(first.User.Id, again.User.Id);
        Assert.Equal("Second Name", again.User.FullName);
        Assert.Equal(1, await App.ScalarAsync<int>("select count(*)::int from users where external_id = @externalId", new { externalId }));
    }

    [Fact]
    public async Task Links_an_existing_account_by_email_in_its_clinic()
    {
        var admin = await RegisterClinicAsync();
        var externalId = "google-" + Guid.NewGuid();

        var result = await SyncAsync(new SyncUser.Request(externalId, admin.Email.ToUpperInvariant(), null, "google"), HttpStatusCode.OK);

        var session = await result.ReadAsJsonAsync<AuthRules.Session>();
        Assert.Equal(admin.UserId, session.User.Id);
        Assert.Equal(admin.ClinicId, session.User.ClinicId);
        Assert.Equal("admin", session.User.Role);
        Assert.Equal("Ada Admin", session.User.FullName);
        Assert.NotNull(session.Clinic);
        var stored = (await App.QueryAsync<Stored>(StoredSql, new { Id = admin.UserId })).Single();
        Assert.Equal("google", stored.Provider);
        Assert.Equal(externalId, stored.ExternalId);
        Assert.NotNull(stored.PasswordHash);
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "user.sync");
        Assert.NotNull(audit);
        Assert.Equal(admin.UserId.ToString(), audit.EntityId);
        using var changes = System.Text.Json.JsonDocument.Parse(audit.Changes);
        Assert.True(changes.RootElement.GetProperty("linked").GetBoolean());
        Assert.Equal(admin.Email, changes.RootElement.GetProperty("email").GetString());

        // The password still works after linking.
        await LoginAsync(admin.Email, Password);
    }

    [Fact]
    public async Task Refuses_an_email_that_belongs_to_another_identity()
    {
        var email = NewEmail("oauth");
        await SyncAsync(new SyncUser.Request("google-" + Guid.NewGuid(), email, null, "google"), HttpStatusCode.Created);

        var result = await SyncAsync(new SyncUser.Request("google-" + Guid.NewGuid(), email, null, "google"), HttpStatusCode.Conflict);

        await ErrorAsync(result, ErrorCodes.Conflict);
        Assert.Equal(1, await App.ScalarAsync<int>("select count(*)::int from users where email = @email", new { email }));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("wrong-secret")]
    [InlineData("")]
    public async Task Requires_the_shared_secret(string? secret)
    {
        var email = NewEmail("oauth");

        var result = await SyncAsync(new SyncUser.Request("x-" + Guid.NewGuid(), email, null, "google"), HttpStatusCode.Unauthorized, secret);

        await ErrorAsync(result, ErrorCodes.Unauthenticated);
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from users where email = @email", new { email }));
    }

    [Fact]
    public async Task Refuses_an_inactive_user()
    {
        var admin = await RegisterClinicAsync();
        var staff = await AddUserAsync(admin, "staff");
        await App.ExecuteAsync("update users set active = false where id = @UserId", new { staff.UserId });

        var result = await SyncAsync(new SyncUser.Request("google-" + Guid.NewGuid(), staff.Email, null, "google"), HttpStatusCode.Forbidden);

        await ErrorAsync(result, ErrorCodes.UserInactive);
        Assert.Null((await App.QueryAsync<Stored>(StoredSql, new { Id = staff.UserId })).Single().ExternalId);
    }

    [Fact]
    public async Task Rejects_bad_input_with_details()
    {
        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new { email = "not-an-email", externalId = "", fullName = new string('x', 201) }).ToUrl("/api/auth/sync");
            s.WithRequestHeader("x-auth-secret", AppFixture.SyncSecret);
            s.StatusCodeShouldBe(HttpStatusCode.BadRequest);
        });

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Contains("email", error.Details!.Keys);
        Assert.Contains("externalId", error.Details.Keys);
        Assert.Contains("provider", error.Details.Keys);
        Assert.Contains("fullName", error.Details.Keys);
    }
}
