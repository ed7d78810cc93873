using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Auth;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Auth;

public sealed class LoginTests(AppFixture app) : ApiTest(app)
{
    private Task<IScenarioResult> LoginAsync(object body, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Post.Json(body).ToUrl("/api/auth/login");
            s.StatusCodeShouldBe(expected);
        });

    [Fact]
    public async Task Signs_in_with_email_and_password_and_audits_it()
    {
        var admin = await RegisterClinicAsync();

        var result = await LoginAsync(new Login.Request(admin.Email.ToUpperInvariant(), Password), HttpStatusCode.OK);

        var session = await result.ReadAsJsonAsync<AuthRules.Session>();
        Assert.Equal(admin.UserId, session.User.Id);
        Assert.Equal("admin", session.User.Role);
        Assert.Equal(admin.ClinicId, session.Clinic!.Id);
        Assert.InRange(session.ExpiresAt, DateTimeOffset.UtcNow.AddHours(7.9), DateTimeOffset.UtcNow.AddHours(8.1));
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "user.login");
        Assert.NotNull(audit);
        Assert.Equal(admin.UserId, audit.ActorId);
        await Host.Scenario(s =>
        {
            s.Get.Url("/api/auth/me");
            s.WithBearerToken(session.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
    }

    [Fact]
    public async Task Answers_a_wrong_password_and_an_unknown_email_alike()
    {
        var admin = await RegisterClinicAsync();

        var wrong = await LoginAsync(new Login.Request(admin.Email, "not the password at all"), HttpStatusCode.Unauthorized);
        var unknown = await LoginAsync(new Login.Request(NewEmail("ghost"), Password), HttpStatusCode.Unauthorized);

        var wrongError = await ErrorAsync(wrong, ErrorCodes.InvalidCredentials);
        var unknownError = await ErrorAsync(unknown, ErrorCodes.InvalidCredentials);
        Assert.Equal(wrongError with { RequestId = null }, unknownError with { RequestId = null });
    }

    [Fact]
    public async Task Refuses_a_user_without_a_password()
    {
        var email = NewEmail("oauth");
        await Host.Scenario(s =>
        {
            s.Post.Json(new SyncUser.Request("google-" + Guid.NewGuid(), email, null, "google")).ToUrl("/api/auth/sync");
            s.WithRequestHeader("x-auth-secret", AppFixture.SyncSecret);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });

        var result = await LoginAsync(new Login.Request(email, Password), HttpStatusCode.Unauthorized);

        await ErrorAsync(result, ErrorCodes.InvalidCredentials);
    }

    [Fact]
    public async Task Refuses_an_inactive_user()
    {
        var admin = await RegisterClinicAsync();
        var staff = await AddUserAsync(admin, "staff");
        await App.ExecuteAsync("update users set active = false where id = @UserId", new { staff.UserId });

        var result = await LoginAsync(new Login.Request(staff.Email, Password), HttpStatusCode.Forbidden);

        await ErrorAsync(result, ErrorCodes.UserInactive);
    }

    [Fact]
    public async Task Rejects_missing_fields_with_details()
    {
        var result = await LoginAsync(new { email = "" }, HttpStatusCode.BadRequest);

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Contains("email", error.Details!.Keys);
        Assert.Contains("password", error.Details.Keys);
    }
}
