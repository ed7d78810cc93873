using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Platform;

/// <summary>The per-IP limits of SPEC §2 on a host of their own, with small windows.</summary>
public sealed class RateLimitTests(AppFixture app) : ApiTest(app), IAsyncLifetime
{
    private IAlbaHost _host = null!;

    public async ValueTask InitializeAsync() =>
        _host = await App.StartHostAsync(new Dictionary<string, string?>
        {
            ["RateLimits:FailedAuth:PermitLimit"] = "3",
            ["RateLimits:General:PermitLimit"] = "5",
            ["RateLimits:Register:PermitLimit"] = "4",
        });

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    // Addresses from the documentation ranges (RFC 5737): only ever strings in a request context.
    private static void From(Scenario s, string ip, string? peer = null)
    {
        s.ConfigureHttpContext(c => c.Connection.RemoteIpAddress = IPAddress.Parse(peer ?? "127.0.0.1"));
        s.WithRequestHeader("X-Forwarded-For", ip);
    }

    private Task<IScenarioResult> LoginAsync(string ip, string email, string password, HttpStatusCode expected) =>
        _host.Scenario(s =>
        {
            From(s, ip);
            s.Post.Json(new { email, password }).ToUrl("/api/auth/login");
            s.StatusCodeShouldBe(expected);
        });

    [Fact]
    public async Task Blocks_an_ip_after_its_failed_logins_and_not_other_ips()
    {
        var admin = await RegisterClinicAsync(host: _host);
        for (var i = 0; i < 3; i++)
        {
            await LoginAsync("203.0.113.10", admin.Email, "wrong password!", HttpStatusCode.Unauthorized);
        }

        var blocked = await LoginAsync("203.0.113.10", admin.Email, Password, HttpStatusCode.TooManyRequests);
        await ErrorAsync(blocked, ErrorCodes.RateLimited);
        Assert.True(int.Parse(blocked.Context.Response.Headers.RetryAfter.ToString(), System.Globalization.CultureInfo.InvariantCulture) > 0);

        await LoginAsync("203.0.113.11", admin.Email, Password, HttpStatusCode.OK);
    }

    [Fact]
    public async Task Successful_logins_do_not_count_as_failures()
    {
        var admin = await RegisterClinicAsync(host: _host);

        for (var i = 0; i < 6; i++)
        {
            await LoginAsync("203.0.113.20", admin.Email, Password, HttpStatusCode.OK);
        }
    }

    [Fact]
    public async Task Wrong_superadmin_keys_count_as_failures()
    {
        for (var i = 0; i < 3; i++)
        {
            await _host.Scenario(s =>
            {
                From(s, "203.0.113.30");
                s.Get.Url("/api/superadmin/clinics");
                s.WithRequestHeader("X-Admin-Key", "guess-" + i);
                s.StatusCodeShouldBe(HttpStatusCode.Unauthorized);
            });
        }

        var blocked = await _host.Scenario(s =>
        {
            From(s, "203.0.113.30");
            s.Get.Url("/api/superadmin/clinics");
            s.WithRequestHeader("X-Admin-Key", AppFixture.SuperadminKey);
            s.StatusCodeShouldBe(HttpStatusCode.TooManyRequests);
        });
        await ErrorAsync(blocked, ErrorCodes.RateLimited);
    }

    [Fact]
    public async Task Limits_general_requests_per_ip()
    {
        var admin = await RegisterClinicAsync(host: _host);
        for (var i = 0; i < 5; i++)
        {
            await _host.Scenario(s =>
            {
                From(s, "203.0.113.40");
                s.Get.Url("/api/auth/me");
                s.WithBearerToken(admin.Token);
                s.StatusCodeShouldBeOk();
            });
        }

        var limited = await _host.Scenario(s =>
        {
            From(s, "203.0.113.40");
            s.Get.Url("/api/auth/me");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.TooManyRequests);
        });

        await ErrorAsync(limited, ErrorCodes.RateLimited);
        Assert.False(string.IsNullOrEmpty(limited.Context.Response.Headers.RetryAfter.ToString()));
    }

    [Fact]
    public async Task Ignores_forwarded_for_from_an_untrusted_peer()
    {
        var admin = await RegisterClinicAsync(host: _host);
        for (var i = 0; i < 5; i++)
        {
            var spoofed = $"203.0.113.{100 + i}";
            await _host.Scenario(s =>
            {
                From(s, spoofed, peer: "198.51.100.7");
                s.Get.Url("/api/auth/me");
                s.WithBearerToken(admin.Token);
                s.StatusCodeShouldBeOk();
            });
        }

        await _host.Scenario(s =>
        {
            From(s, "203.0.113.200", peer: "198.51.100.7");
            s.Get.Url("/api/auth/me");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.TooManyRequests);
        });
    }

    [Fact]
    public async Task Limits_registrations_per_ip()
    {
        for (var i = 0; i < 4; i++)
        {
            await _host.Scenario(s =>
            {
                From(s, "203.0.113.50");
                s.Post.Json(new { email = NewEmail(), password = Password }).ToUrl("/api/auth/register");
                s.StatusCodeShouldBe(HttpStatusCode.Created);
            });
        }

        var limited = await _host.Scenario(s =>
        {
            From(s, "203.0.113.50");
            s.Post.Json(new { email = NewEmail(), password = Password }).ToUrl("/api/auth/register");
            s.StatusCodeShouldBe(HttpStatusCode.TooManyRequests);
        });
        await ErrorAsync(limited, ErrorCodes.RateLimited);
    }
}
