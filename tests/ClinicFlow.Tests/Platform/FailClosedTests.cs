using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
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
        var appCs = new NpgsqlConnectionStringBuilder(await App.Cluster.CreateDatabaseAsync(database)) { Port = proxy.Port, Timeout = 5 };
        var isolated = await App.StartIsolatedAsync(new Dictionary<string, string?> { ["ConnectionStrings:Postgres"] = appCs.ConnectionString });
        var admin = await RegisterClinicAsync(host: isolated.Host);

        proxy.Cut();
        var me = await MeAsync(isolated.Host, admin, HttpStatusCode.ServiceUnavailable);
        await ErrorAsync(me, ErrorCodes.ServiceUnavailable);
        var login = await LoginAsync(isolated.Host, admin, HttpStatusCode.ServiceUnavailable);
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
        await MeAsync(isolated.Host, admin, HttpStatusCode.OK);
    }

    [Fact]
    public async Task Answers_503_with_retry_after_when_the_pool_is_exhausted_and_recovers()
    {
        const int poolSize = 3;
        var database = "clinicflow_test_pool_" + Guid.NewGuid().ToString("N")[..8];
        var appCs = new NpgsqlConnectionStringBuilder(await App.Cluster.CreateDatabaseAsync(database)) { MaxPoolSize = poolSize, Timeout = 2 };
        var isolated = await App.StartIsolatedAsync(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = appCs.ConnectionString,
            ["Outbox:Enabled"] = "false",
        });
        var admin = await RegisterClinicAsync(host: isolated.Host);
        // The request pool is at most the connection string's Maximum Pool Size.
        var source = isolated.Host.Services.GetRequiredService<RequestDataSource>().DataSource;

        // Every connection of the pool held elsewhere.
        await using (await HoldAsync(source, poolSize))
        {
            var me = await MeAsync(isolated.Host, admin, HttpStatusCode.ServiceUnavailable);
            await ErrorAsync(me, ErrorCodes.ServiceUnavailable);
            Assert.Equal(ErrorWriter.ServiceUnavailableRetrySeconds, me.Context.Response.Headers.RetryAfter.ToString());

            var patient = await isolated.Host.Scenario(s =>
            {
                s.Post.Json(new { fullName = "Nadie Esperando" }).ToUrl("/api/patients");
                s.WithBearerToken(admin.Token);
                s.StatusCodeShouldBe(HttpStatusCode.ServiceUnavailable);
            });
            await ErrorAsync(patient, ErrorCodes.ServiceUnavailable);
        }

        await MeAsync(isolated.Host, admin, HttpStatusCode.OK);
        await using var check = new NpgsqlConnection(App.Cluster.AdminConnectionStringFor(database));
        Assert.Equal(0L, await Dapper.SqlMapper.ExecuteScalarAsync<long>(check, "select count(*) from patients"));
    }

    [Fact]
    public async Task Requests_and_long_transfers_draw_from_separate_pools()
    {
        var database = "clinicflow_test_pools_" + Guid.NewGuid().ToString("N")[..8];
        var appCs = new NpgsqlConnectionStringBuilder(await App.Cluster.CreateDatabaseAsync(database)) { Timeout = 2 };
        var isolated = await App.StartIsolatedAsync(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = appCs.ConnectionString,
            ["Database:RequestPoolSize"] = "2",
            ["Outbox:Enabled"] = "false",
        });
        var admin = await RegisterClinicAsync(host: isolated.Host);
        await isolated.Host.Scenario(s =>
        {
            s.Post.Json(new { fullName = "Ana Pools" }).ToUrl("/api/patients");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });

        // Both request connections held: requests wait, then 503; an export (a long transfer) still runs.
        var requests = isolated.Host.Services.GetRequiredService<RequestDataSource>().DataSource;
        await using (await HoldAsync(requests, 2))
        {
            var me = await MeAsync(isolated.Host, admin, HttpStatusCode.ServiceUnavailable);
            await ErrorAsync(me, ErrorCodes.ServiceUnavailable);

            var export = await isolated.Host.Scenario(s =>
            {
                s.Get.Url("/api/patients/export");
                s.WithBearerToken(admin.Token);
                s.StatusCodeShouldBeOk();
            });
            Assert.Contains("Ana Pools", await export.ReadAsTextAsync(), StringComparison.Ordinal);

            // So does a sign-in, which holds its connection through the password hash.
            await LoginAsync(isolated.Host, admin, HttpStatusCode.OK);
        }

        await MeAsync(isolated.Host, admin, HttpStatusCode.OK);
    }

    private static Task<IScenarioResult> MeAsync(IAlbaHost host, Account account, HttpStatusCode expected) =>
        host.Scenario(s =>
        {
            s.Get.Url("/api/auth/me");
            s.WithBearerToken(account.Token);
            s.StatusCodeShouldBe(expected);
        });

    private static Task<IScenarioResult> LoginAsync(IAlbaHost host, Account account, HttpStatusCode expected) =>
        host.Scenario(s =>
        {
            s.Post.Json(new { email = account.Email, password = account.Password }).ToUrl("/api/auth/login");
            s.StatusCodeShouldBe(expected);
        });

    /// <summary>Takes <paramref name="count"/> connections of the pool and keeps them until disposed.</summary>
    private static async Task<IAsyncDisposable> HoldAsync(NpgsqlDataSource source, int count)
    {
        var held = new HeldConnections();
        for (var attempt = 0; held.Count < count && attempt < 50; attempt++)
        {
            try
            {
                held.Add(await source.OpenConnectionAsync(Ct));
            }
            catch (NpgsqlException)
            {
                // a worker held one for a moment; try again
            }
        }

        if (held.Count < count)
        {
            await held.DisposeAsync();
            Assert.Fail($"Only {held.Count} of {count} connections could be taken from the pool.");
        }

        return held;
    }

    private sealed class HeldConnections : List<NpgsqlConnection>, IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            foreach (var connection in this)
            {
                await connection.DisposeAsync();
            }
        }
    }
}
