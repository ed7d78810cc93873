using System.Net;
using System.Security.Cryptography;
using System.Text;
using ClinicFlow.Infrastructure;
using ClinicFlow.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace ClinicFlow.Tests.Platform;

/// <summary>Forged, tampered, expired and revoked tokens never get past authentication.</summary>
public sealed class TokenTests(AppFixture app) : ApiTest(app)
{
    private async Task<ApiError> MeWithAsync(string token, HttpStatusCode expected = HttpStatusCode.Unauthorized)
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/auth/me");
            s.WithBearerToken(token);
            s.StatusCodeShouldBe(expected);
        });
        return await result.ReadAsJsonAsync<ApiError>();
    }

    private ECDsaSecurityKey ServiceKey()
    {
        var ecdsa = ECDsa.Create();
        ecdsa.ImportFromPem(App.SigningKeyPem);
        var key = new ECDsaSecurityKey(ecdsa);
        key.KeyId = Base64UrlEncoder.Encode(JsonWebKeyConverter.ConvertFromECDsaSecurityKey(key).ComputeJwkThumbprint());
        return key;
    }

    private static string Sign(SecurityKey key, string algorithm, Dictionary<string, object> claims, DateTime? expires = null,
        string issuer = "clinicflow", string audience = "clinicflow-api")
    {
        var now = DateTime.UtcNow;
        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            IssuedAt = (expires ?? now.AddHours(1)).AddHours(-2),
            NotBefore = (expires ?? now.AddHours(1)).AddHours(-2),
            Expires = expires ?? now.AddHours(1),
            Claims = claims,
            SigningCredentials = new SigningCredentials(key, algorithm),
        });
    }

    private static Dictionary<string, object> ClaimsOf(Account account, int tokenVersion = 1) => new()
    {
        ["sub"] = account.UserId.ToString(),
        ["email"] = account.Email,
        ["role"] = "authenticated",
        ["app_role"] = "admin",
        ["clinic_id"] = account.ClinicId!.Value.ToString(),
        ["tv"] = tokenVersion,
    };

    [Fact]
    public async Task Accepts_a_token_the_service_signed()
    {
        var admin = await RegisterClinicAsync();

        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/auth/me");
            s.WithBearerToken(Sign(ServiceKey(), SecurityAlgorithms.EcdsaSha256, ClaimsOf(admin)));
            s.StatusCodeShouldBeOk();
        });

        Assert.Contains(admin.Email, await result.ReadAsTextAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rejects_alg_none()
    {
        var admin = await RegisterClinicAsync();
        var header = Base64UrlEncoder.Encode("""{"alg":"none","typ":"JWT"}""");
        var payload = Base64UrlEncoder.Encode(
            $$"""{"sub":"{{admin.UserId}}","role":"authenticated","clinic_id":"{{admin.ClinicId}}","tv":1,"iss":"clinicflow","aud":"clinicflow-api","exp":{{DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds()}}}""");

        var error = await MeWithAsync($"{header}.{payload}.");

        Assert.Equal(ErrorCodes.Unauthenticated, error.Code);
    }

    [Fact]
    public async Task Rejects_hs256_signed_with_the_public_key()
    {
        var admin = await RegisterClinicAsync();
        var publicKey = ServiceKey().ECDsa.ExportSubjectPublicKeyInfo();
        var hmac = new SymmetricSecurityKey(publicKey) { KeyId = ServiceKey().KeyId };

        var error = await MeWithAsync(Sign(hmac, SecurityAlgorithms.HmacSha256, ClaimsOf(admin)));

        Assert.Equal(ErrorCodes.Unauthenticated, error.Code);
    }

    [Fact]
    public async Task Rejects_a_key_the_service_does_not_hold_even_under_its_kid()
    {
        var admin = await RegisterClinicAsync();
        var foreign = new ECDsaSecurityKey(ECDsa.Create(ECCurve.NamedCurves.nistP256)) { KeyId = ServiceKey().KeyId };

        var error = await MeWithAsync(Sign(foreign, SecurityAlgorithms.EcdsaSha256, ClaimsOf(admin)));

        Assert.Equal(ErrorCodes.Unauthenticated, error.Code);
    }

    [Fact]
    public async Task Rejects_a_token_without_kid()
    {
        var admin = await RegisterClinicAsync();
        var key = ServiceKey();
        var noKid = new ECDsaSecurityKey(key.ECDsa);

        var error = await MeWithAsync(Sign(noKid, SecurityAlgorithms.EcdsaSha256, ClaimsOf(admin)));

        Assert.Equal(ErrorCodes.Unauthenticated, error.Code);
    }

    [Fact]
    public async Task Rejects_tampered_claims()
    {
        var victim = await RegisterClinicAsync();
        var attacker = await RegisterClinicAsync();
        var parts = attacker.Token.Split('.');
        var payload = Encoding.UTF8.GetString(Base64UrlEncoder.DecodeBytes(parts[1]))
            .Replace(attacker.ClinicId.ToString()!, victim.ClinicId.ToString(), StringComparison.Ordinal);

        var error = await MeWithAsync($"{parts[0]}.{Base64UrlEncoder.Encode(payload)}.{parts[2]}");

        Assert.Equal(ErrorCodes.Unauthenticated, error.Code);
    }

    [Fact]
    public async Task Answers_an_expired_token_with_token_expired()
    {
        var admin = await RegisterClinicAsync();

        var error = await MeWithAsync(Sign(ServiceKey(), SecurityAlgorithms.EcdsaSha256, ClaimsOf(admin), DateTime.UtcNow.AddMinutes(-5)));

        Assert.Equal(ErrorCodes.TokenExpired, error.Code);
    }

    [Theory]
    [InlineData("someone-else", "clinicflow-api")]
    [InlineData("clinicflow", "another-api")]
    public async Task Rejects_wrong_issuer_or_audience(string issuer, string audience)
    {
        var admin = await RegisterClinicAsync();

        var error = await MeWithAsync(Sign(ServiceKey(), SecurityAlgorithms.EcdsaSha256, ClaimsOf(admin), issuer: issuer, audience: audience));

        Assert.Equal(ErrorCodes.Unauthenticated, error.Code);
    }

    [Fact]
    public async Task Rejects_a_token_whose_version_was_revoked()
    {
        var admin = await RegisterClinicAsync();
        await App.ExecuteAsync("update users set token_version = token_version + 1 where id = @UserId", new { admin.UserId });

        var error = await MeWithAsync(admin.Token);

        Assert.Equal(ErrorCodes.Unauthenticated, error.Code);
    }

    [Fact]
    public async Task Rejects_a_token_naming_a_clinic_the_user_is_not_in()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync();
        var claims = ClaimsOf(admin);
        claims["clinic_id"] = other.ClinicId!.Value.ToString();

        var error = await MeWithAsync(Sign(ServiceKey(), SecurityAlgorithms.EcdsaSha256, claims));

        Assert.Equal(ErrorCodes.Unauthenticated, error.Code);
    }

    [Fact]
    public async Task Answers_an_inactive_user_with_user_inactive()
    {
        var admin = await RegisterClinicAsync();
        await App.ExecuteAsync("update users set active = false where id = @UserId", new { admin.UserId });

        var error = await MeWithAsync(admin.Token, HttpStatusCode.Forbidden);

        Assert.Equal(ErrorCodes.UserInactive, error.Code);
    }

    [Fact]
    public async Task Rejects_garbage_in_the_authorization_header()
    {
        var error = await MeWithAsync("not.a.jwt");

        Assert.Equal(ErrorCodes.Unauthenticated, error.Code);
    }

    [Fact]
    public async Task A_cached_token_is_still_refused_once_revoked_or_its_user_deactivated()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync();
        await MeWithAsync(admin.Token, HttpStatusCode.OK);
        await MeWithAsync(other.Token, HttpStatusCode.OK);
        var cache = Host.Services.GetRequiredService<CachingTokenHandler>();
        Assert.True(cache.Count >= 2);

        await App.ExecuteAsync("update users set token_version = token_version + 1 where id = @UserId", new { admin.UserId });
        await App.ExecuteAsync("update users set active = false where id = @UserId", new { other.UserId });

        Assert.Equal(ErrorCodes.Unauthenticated, (await MeWithAsync(admin.Token)).Code);
        Assert.Equal(ErrorCodes.UserInactive, (await MeWithAsync(other.Token, HttpStatusCode.Forbidden)).Code);
    }

    [Fact]
    public async Task The_cache_never_serves_a_token_past_its_expiry()
    {
        var handler = new CachingTokenHandler(Microsoft.Extensions.Options.Options.Create(new AuthOptions { TokenCacheSize = 10 }));
        var key = ServiceKey();
        var parameters = new TokenValidationParameters
        {
            ValidIssuer = "clinicflow",
            ValidAudience = "clinicflow-api",
            IssuerSigningKey = key,
            ClockSkew = TimeSpan.Zero,
        };
        var now = DateTime.UtcNow;
        var token = new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = "clinicflow",
            Audience = "clinicflow-api",
            IssuedAt = now.AddMinutes(-1),
            NotBefore = now.AddMinutes(-1),
            Expires = now.AddSeconds(1.5),
            Claims = new Dictionary<string, object> { ["sub"] = Guid.NewGuid().ToString() },
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.EcdsaSha256),
        });

        var first = await handler.ValidateTokenAsync(token, parameters);
        var second = await handler.ValidateTokenAsync(token, parameters);
        Assert.True(first.IsValid && second.IsValid);
        Assert.Equal(1, handler.Count);
        Assert.NotSame(first.ClaimsIdentity, second.ClaimsIdentity);
        var tampered = await handler.ValidateTokenAsync(token[..^10] + (token[^10] == 'A' ? "B" : "A") + token[^9..], parameters);
        Assert.False(tampered.IsValid);

        while (DateTime.UtcNow < now.AddSeconds(1.6))
        {
            await Task.Delay(100, Ct);
        }

        var expired = await handler.ValidateTokenAsync(token, parameters);
        Assert.False(expired.IsValid);
        Assert.IsType<SecurityTokenExpiredException>(expired.Exception);
        Assert.Equal(0, handler.Count);
    }
}
