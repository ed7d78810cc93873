using System.Net;
using System.Text.Json;
using ClinicFlow.Tests.Support;
using Microsoft.IdentityModel.JsonWebTokens;

namespace ClinicFlow.Tests.Auth;

/// <summary>GET /.well-known/jwks.json (<see cref="ClinicFlow.Slices.Auth.GetJwks"/>).</summary>
public sealed class GetJwksTests(AppFixture app) : ApiTest(app)
{
    [Fact]
    public async Task Publishes_the_public_key_that_signed_the_token()
    {
        var admin = await RegisterClinicAsync();

        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/.well-known/jwks.json");
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        using var jwks = JsonDocument.Parse(await result.ReadAsTextAsync());
        var keys = jwks.RootElement.GetProperty("keys").EnumerateArray().ToList();
        Assert.NotEmpty(keys);
        var header = new JsonWebToken(admin.Token);
        Assert.Equal("ES256", header.Alg);
        var key = Assert.Single(keys, k => k.GetProperty("kid").GetString() == header.Kid);
        Assert.Equal("EC", key.GetProperty("kty").GetString());
        Assert.Equal("P-256", key.GetProperty("crv").GetString());
        Assert.True(key.TryGetProperty("x", out _));
        Assert.True(key.TryGetProperty("y", out _));
        Assert.All(keys, k => Assert.False(k.TryGetProperty("d", out _)));
        Assert.Contains("max-age", result.Context.Response.Headers.CacheControl.ToString(), StringComparison.Ordinal);
    }
}
