using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Health;
using ClinicFlow.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace ClinicFlow.Tests.Health;

/// <summary>Readiness; its 503 when the database is unreachable is in Platform/FailClosedTests.</summary>
public sealed class GetReadyTests(AppFixture app) : ApiTest(app)
{
    [Fact]
    public async Task Answers_ready_with_the_applied_migration()
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/health/ready");
            s.StatusCodeShouldBeOk();
        });

        var ready = await result.ReadAsJsonAsync<GetReady.Response>();
        Assert.Equal("ready", ready.Status);
        Assert.Equal(Database.LatestMigration, ready.Migration);
        Assert.Equal(await App.ScalarAsync<long>("""select max("Version") from "VersionInfo" """), ready.Migration);
    }

    [Fact]
    public async Task Answers_503_while_a_migration_of_this_build_is_missing()
    {
        var isolated = await App.StartIsolatedAsync(new Dictionary<string, string?>());
        await using (var connection = new Npgsql.NpgsqlConnection(isolated.AdminConnectionString))
        {
            await Dapper.SqlMapper.ExecuteAsync(connection, """delete from "VersionInfo" where "Version" = @v""", new { v = Database.LatestMigration });
        }

        var result = await isolated.Host.Scenario(s =>
        {
            s.Get.Url("/health/ready");
            s.StatusCodeShouldBe(HttpStatusCode.ServiceUnavailable);
        });

        await ErrorAsync(result, ErrorCodes.ServiceUnavailable);
    }

    [Fact]
    public async Task Answers_503_once_the_outbox_worker_has_stopped()
    {
        var isolated = await App.StartIsolatedAsync(new Dictionary<string, string?>());
        await isolated.Host.Scenario(s =>
        {
            s.Get.Url("/health/ready");
            s.StatusCodeShouldBeOk();
        });

        await isolated.Host.Services.GetRequiredService<OutboxDispatcher>().StopAsync(Ct);

        var result = await isolated.Host.Scenario(s =>
        {
            s.Get.Url("/health/ready");
            s.StatusCodeShouldBe(HttpStatusCode.ServiceUnavailable);
        });
        await ErrorAsync(result, ErrorCodes.ServiceUnavailable);
        Assert.Equal(ErrorWriter.ServiceUnavailableRetrySeconds, result.Context.Response.Headers.RetryAfter.ToString());
        // A worker stopped is not a crash: the process goes on serving, only readiness says no.
        await Task.Delay(200, Ct);
        await isolated.Host.Scenario(s =>
        {
            s.Get.Url("/health/live");
            s.StatusCodeShouldBeOk();
        });
    }

    [Fact]
    public async Task Stays_ready_when_the_outbox_is_switched_off_on_purpose()
    {
        var isolated = await App.StartIsolatedAsync(new Dictionary<string, string?> { ["Outbox:Enabled"] = "false" });

        var result = await isolated.Host.Scenario(s =>
        {
            s.Get.Url("/health/ready");
            s.StatusCodeShouldBeOk();
        });

        Assert.Equal("ready", (await result.ReadAsJsonAsync<GetReady.Response>()).Status);
    }
}
