using System.Net;
using System.Text.RegularExpressions;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Auth;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Auth;

public sealed partial class ConfirmPasswordResetTests(AppFixture app) : ApiTest(app)
{
    private const string NewPassword = "a brand new passphrase";

    [GeneratedRegex("token=([A-Za-z0-9_-]+)")]
    private static partial Regex TokenInLink();

    /// <summary>Asks for a reset through the API and reads the token from the email that arrives.</summary>
    private async Task<string> ResetTokenByEmailAsync(string email)
    {
        await Host.Scenario(s =>
        {
            s.Post.Json(new RequestPasswordReset.Request(email)).ToUrl("/api/auth/password-reset/request");
            s.StatusCodeShouldBe(HttpStatusCode.Accepted);
        });
        var mail = await App.Smtp.WaitForAsync(email);
        return TokenInLink().Match(mail.Text).Groups[1].Value;
    }

    /// <summary>Stores a token directly, for states the API cannot produce on demand (expired).</summary>
    private async Task<string> StoreTokenAsync(Guid userId, TimeSpan validFor)
    {
        var token = Guid.NewGuid().ToString("N") + Guid.NewGuid().ToString("N");
        await App.ExecuteAsync(
            "insert into password_reset_tokens (token_hash, user_id, expires_at) values (@Hash, @userId, now() + @validFor)",
            new { Hash = AuthRules.ResetTokenHash(token), userId, validFor });
        return token;
    }

    private Task<IScenarioResult> ConfirmAsync(string token, string password, HttpStatusCode expected, IAlbaHost? host = null) =>
        (host ?? Host).Scenario(s =>
        {
            s.Post.Json(new ConfirmPasswordReset.Request(token, password)).ToUrl("/api/auth/password-reset/confirm");
            s.StatusCodeShouldBe(expected);
        });

    [Fact]
    public async Task Resets_the_password_end_to_end_and_revokes_older_tokens()
    {
        var admin = await RegisterClinicAsync();
        var token = await ResetTokenByEmailAsync(admin.Email);

        await ConfirmAsync(token, NewPassword, HttpStatusCode.NoContent);

        var stale = await Host.Scenario(s =>
        {
            s.Get.Url("/api/auth/me");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Unauthorized);
        });
        await ErrorAsync(stale, ErrorCodes.Unauthenticated);
        var fresh = await LoginAsync(admin.Email, NewPassword);
        Assert.Equal(admin.UserId, fresh.UserId);
        await Host.Scenario(s =>
        {
            s.Post.Json(new Login.Request(admin.Email, Password)).ToUrl("/api/auth/login");
            s.StatusCodeShouldBe(HttpStatusCode.Unauthorized);
        });

        Assert.Equal(2, await App.ScalarAsync<int>("select token_version from users where id = @UserId", new { admin.UserId }));
        Assert.Equal(0, await App.ScalarAsync<int>(
            "select count(*)::int from password_reset_tokens where user_id = @UserId and used_at is null", new { admin.UserId }));
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "user.password_reset");
        Assert.NotNull(audit);
        Assert.Equal(admin.UserId, audit.ActorId);
        Assert.Equal(admin.UserId.ToString(), audit.EntityId);
    }

    [Fact]
    public async Task Refuses_a_token_used_before()
    {
        var account = await RegisterWithoutClinicAsync();
        var token = await ResetTokenByEmailAsync(account.Email);
        await ConfirmAsync(token, NewPassword, HttpStatusCode.NoContent);

        var result = await ConfirmAsync(token, "yet another passphrase", HttpStatusCode.BadRequest);

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Contains("token", error.Details!.Keys);
        await LoginAsync(account.Email, NewPassword);
    }

    [Fact]
    public async Task Using_one_token_closes_the_users_other_open_tokens()
    {
        var account = await RegisterWithoutClinicAsync();
        var first = await StoreTokenAsync(account.UserId, TimeSpan.FromHours(1));
        var second = await StoreTokenAsync(account.UserId, TimeSpan.FromHours(1));

        await ConfirmAsync(first, NewPassword, HttpStatusCode.NoContent);

        var error = await ErrorAsync(await ConfirmAsync(second, "yet another passphrase", HttpStatusCode.BadRequest), ErrorCodes.ValidationError);
        Assert.Contains("token", error.Details!.Keys);
    }

    [Fact]
    public async Task Refuses_an_expired_token()
    {
        var account = await RegisterWithoutClinicAsync();
        var token = await StoreTokenAsync(account.UserId, TimeSpan.FromMinutes(-1));

        var result = await ConfirmAsync(token, NewPassword, HttpStatusCode.BadRequest);

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Contains("token", error.Details!.Keys);
        await LoginAsync(account.Email, Password);
    }

    [Fact]
    public async Task Refuses_an_unknown_token()
    {
        var result = await ConfirmAsync("no-such-token-" + Guid.NewGuid(), NewPassword, HttpStatusCode.BadRequest);

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Contains("token", error.Details!.Keys);
    }

    [Theory]
    [InlineData("short")]
    [InlineData("password123")]
    public async Task Rejects_a_weak_password_and_keeps_the_token_usable(string weak)
    {
        var account = await RegisterWithoutClinicAsync();
        var token = await StoreTokenAsync(account.UserId, TimeSpan.FromHours(1));

        var result = await ConfirmAsync(token, weak, HttpStatusCode.BadRequest);

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Contains("newPassword", error.Details!.Keys);
        await ConfirmAsync(token, NewPassword, HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task Blocks_an_ip_after_too_many_wrong_tokens()
    {
        var settings = new Dictionary<string, string?> { ["RateLimits:FailedAuth:PermitLimit"] = "2" };
        var host = await App.StartHostAsync(settings);
        await ConfirmAsync("wrong-1", NewPassword, HttpStatusCode.BadRequest, host);
        await ConfirmAsync("wrong-2", NewPassword, HttpStatusCode.BadRequest, host);

        var result = await ConfirmAsync("wrong-3", NewPassword, HttpStatusCode.TooManyRequests, host);

        await ErrorAsync(result, ErrorCodes.RateLimited);
        Assert.True(result.Context.Response.Headers.ContainsKey("Retry-After"));
    }
}
