using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Tests.Support;
using Npgsql;

namespace ClinicFlow.Tests.Platform;

/// <summary>When the database cannot be reached the answer is 503, never a pass.</summary>
public sealed class FailClosedTests(AppFixture app) : ApiTest(app)
{
    [Fact]
    public async Task Answers_503_when_the_database_is_unreachable_and_recovers()
    {
        var target = new NpgsqlConnectionStringBuilder(App.Cluster.AdminConnectionString);
        var database = "clinicflow_test_proxy_" + Guid.NewGuid().ToString("N")[..8];
        await using var proxy = new TcpProxy(target.Port);
        var appCs = new NpgsqlConnectionStringBuilder(await App.Cluster.CreateDatabaseAsync(database)) { Port = proxy.Port, Timeout = 2 };
        var isolated = await App.StartIsolatedAsync(new Dictionary<string, string?> { ["ConnectionStrings:Postgres"] = appCs.ConnectionString });
        var admin = await RegisterClinicAsync(host: isolated.Host);

        proxy.Cut();
        var me = await isolated.Host.Scenario(s =>
        {
            s.Get.Url("/api/auth/me");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.ServiceUnavailable);
        });
        await ErrorAsync(me, ErrorCodes.ServiceUnavailable);
        var login = await isolated.Host.Scenario(s =>
        {
            s.Post.Json(new { email = admin.Email, password = Password }).ToUrl("/api/auth/login");
            s.StatusCodeShouldBe(HttpStatusCode.ServiceUnavailable);
        });
        await ErrorAsync(login, ErrorCodes.ServiceUnavailable);
        await isolated.Host.Scenario(s =>
        {
            s.Get.Url("/health/ready");
            s.StatusCodeShouldBe(HttpStatusCode.ServiceUnavailable);
        });
        await isolated.Host.Scenario(s =>
        {
            s.Get.Url("/health/live");
            s.StatusCodeShouldBeOk();
        });

        proxy.Restore();
        await isolated.Host.Scenario(s =>
        {
            s.Get.Url("/api/auth/me");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBeOk();
        });
    }
}
