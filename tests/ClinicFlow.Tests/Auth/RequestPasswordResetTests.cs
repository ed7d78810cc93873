using System.Net;
using System.Text.RegularExpressions;
using ClinicFlow.Slices.Auth;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Auth;

public sealed partial class RequestPasswordResetTests(AppFixture app) : ApiTest(app)
{
    [GeneratedRegex("token=([A-Za-z0-9_-]+)")]
    private static partial Regex TokenInLink();

    private async Task<RequestPasswordReset.Response> RequestAsync(string email)
    {
        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new RequestPasswordReset.Request(email)).ToUrl("/api/auth/password-reset/request");
            s.StatusCodeShouldBe(HttpStatusCode.Accepted);
        });
        return await result.ReadAsJsonAsync<RequestPasswordReset.Response>();
    }

    [Fact]
    public async Task Emails_a_link_and_stores_only_the_hash_of_its_token()
    {
        var admin = await RegisterClinicAsync();

        var answer = await RequestAsync(admin.Email);

        Assert.Equal("accepted", answer.Status);
        var mail = await App.Smtp.WaitForAsync(admin.Email);
        Assert.Contains(AppFixture.PublicBaseUrl + "/reset-password?token=", mail.Text, StringComparison.Ordinal);
        var token = TokenInLink().Match(mail.Text).Groups[1].Value;
        Assert.Equal(43, token.Length);

        var stored = await App.QueryAsync<DateTimeOffset>(
            "select expires_at from password_reset_tokens where token_hash = @Hash and user_id = @UserId and used_at is null",
            new { Hash = AuthRules.ResetTokenHash(token), admin.UserId });
        Assert.InRange(Assert.Single(stored), DateTimeOffset.UtcNow.AddMinutes(59), DateTimeOffset.UtcNow.AddMinutes(61));

        var audit = await LastAuditAsync(admin.ClinicId!.Value, "user.password_reset_requested");
        Assert.NotNull(audit);
        Assert.Equal(admin.UserId.ToString(), audit.EntityId);
        Assert.DoesNotContain(token, audit.Changes, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Writes_the_email_in_the_users_language()
    {
        var email = NewEmail("es");
        await RegisterAsync(new Register.Request(email, Password, "Lucía", null, null, null, "es", null));

        await RequestAsync(email);

        var mail = await App.Smtp.WaitForAsync(email);
        Assert.Contains("restablecer su contraseña", mail.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Answers_the_same_for_an_unknown_email_and_sends_nothing()
    {
        var email = NewEmail("nobody");

        var answer = await RequestAsync(email);

        Assert.Equal("accepted", answer.Status);
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from outbox_messages where recipient = @email", new { email }));
    }

    [Fact]
    public async Task Answers_the_same_for_an_inactive_user_and_issues_no_token()
    {
        var admin = await RegisterClinicAsync();
        var staff = await AddUserAsync(admin, "staff");
        await App.ExecuteAsync("update users set active = false where id = @UserId", new { staff.UserId });

        var answer = await RequestAsync(staff.Email);

        Assert.Equal("accepted", answer.Status);
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from password_reset_tokens where user_id = @UserId", new { staff.UserId }));
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from outbox_messages where recipient = @Email", new { staff.Email }));
    }

    [Theory]
    [InlineData("not-an-email")]
    [InlineData("")]
    public async Task Rejects_a_malformed_email_with_details(string email)
    {
        await AssertInvalidAsync("email", s =>
        {
            s.Post.Json(new RequestPasswordReset.Request(email)).ToUrl("/api/auth/password-reset/request");
        });
    }
}
