using ClinicFlow.Tests.Support;
using Dapper;
using Npgsql;

namespace ClinicFlow.Tests.Platform;

/// <summary>The durable outbox: delivered once over real SMTP, retried with backoff, given up at last.</summary>
public sealed class OutboxTests(AppFixture app) : ApiTest(app)
{
    private static async Task<Guid> EnqueueAsync(string adminConnectionString, string to)
    {
        var id = Guid.CreateVersion7();
        await using var connection = new NpgsqlConnection(adminConnectionString);
        await connection.ExecuteAsync("""
            insert into outbox_messages (id, channel, recipient, payload)
            values (@id, 'email', @to, '{"subject":"Hola","body":"Mensaje de prueba"}')
            """, new { id, to });
        return id;
    }

    private static async Task<(string Status, int Attempts, string? LastError, string Payload)> WaitForStatusAsync(
        string adminConnectionString, Guid id, string status)
    {
        await using var connection = new NpgsqlConnection(adminConnectionString);
        for (var i = 0; i < 200; i++)
        {
            var row = await connection.QuerySingleAsync<(string Status, int Attempts, string? LastError, string Payload)>(
                "select status, attempts, last_error, payload::text from outbox_messages where id = @id", new { id });
            if (row.Status == status)
            {
                return row;
            }

            await Task.Delay(100, Ct);
        }

        throw new TimeoutException($"Message {id} never reached {status}.");
    }

    [Fact]
    public async Task Sends_a_queued_email_once_and_drops_its_body()
    {
        var to = NewEmail("outbox");
        var id = await EnqueueAsync(App.AdminConnectionString, to);

        var mail = await App.Smtp.WaitForAsync(to);
        var row = await WaitForStatusAsync(App.AdminConnectionString, id, "sent");

        Assert.Equal("Mensaje de prueba", mail.Text.Trim());
        Assert.Equal(1, row.Attempts);
        Assert.DoesNotContain("Mensaje", row.Payload, StringComparison.Ordinal);
        await Task.Delay(500, Ct);
        Assert.Single(App.Smtp.Messages, m => m.To.Contains(to));
    }

    [Fact]
    public async Task Retries_a_failing_send_and_gives_up_after_max_attempts()
    {
        await using var sink = new SmtpSink { RejectAll = true };
        var isolated = await App.StartIsolatedAsync(new Dictionary<string, string?>
        {
            ["Smtp:Port"] = sink.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Outbox:MaxAttempts"] = "3",
            ["Outbox:RetryBaseSeconds"] = "0.1",
        });
        var to = NewEmail("retry");

        var id = await EnqueueAsync(isolated.AdminConnectionString, to);
        var failed = await WaitForStatusAsync(isolated.AdminConnectionString, id, "failed");

        Assert.Equal(3, failed.Attempts);
        Assert.Contains("try again later", failed.LastError, StringComparison.Ordinal);
        Assert.Empty(sink.Messages);
        GC.KeepAlive(isolated);
    }

    [Fact]
    public async Task A_message_that_fails_once_is_delivered_on_retry()
    {
        await using var sink = new SmtpSink { RejectAll = true };
        var isolated = await App.StartIsolatedAsync(new Dictionary<string, string?>
        {
            ["Smtp:Port"] = sink.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Outbox:RetryBaseSeconds"] = "0.5",
        });
        var to = NewEmail("flaky");
        var id = await EnqueueAsync(isolated.AdminConnectionString, to);

        await using (var connection = new NpgsqlConnection(isolated.AdminConnectionString))
        {
            // Wait until the first attempt has failed and been recorded.
            for (var i = 0; i < 100 && await connection.ExecuteScalarAsync<string?>("select last_error from outbox_messages where id = @id", new { id }) is null; i++)
            {
                await Task.Delay(50, Ct);
            }
        }

        sink.RejectAll = false;
        await sink.WaitForAsync(to);
        var sent = await WaitForStatusAsync(isolated.AdminConnectionString, id, "sent");
        Assert.True(sent.Attempts >= 2);
    }

    [Fact]
    public async Task Two_instances_on_one_database_send_each_message_exactly_once()
    {
        await using var sink = new SmtpSink();
        var settings = new Dictionary<string, string?>
        {
            ["Smtp:Port"] = sink.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Outbox:BatchSize"] = "3",
        };
        var first = await App.StartIsolatedAsync(settings);
        await using var connection = new NpgsqlConnection(first.AdminConnectionString);
        var appConnection = new NpgsqlConnectionStringBuilder(first.AdminConnectionString)
        {
            Username = PostgresCluster.AppRole,
            Password = PostgresCluster.AppPassword,
        }.ConnectionString;
        await App.StartIsolatedAsync(new Dictionary<string, string?>(settings) { ["ConnectionStrings:Postgres"] = appConnection });

        var recipients = Enumerable.Range(0, 40).Select(i => NewEmail($"twice{i}")).ToList();
        await connection.ExecuteAsync("""
            insert into outbox_messages (id, channel, recipient, payload)
            select gen_random_uuid(), 'email', r, '{"subject":"s","body":"b"}' from unnest(@recipients) r
            """, new { recipients });

        foreach (var recipient in recipients)
        {
            await sink.WaitForAsync(recipient);
        }

        await Task.Delay(500, Ct);
        Assert.Equal(40, sink.Messages.Count);
        Assert.Equal(40, recipients.Distinct().Count(r => sink.Messages.Count(m => m.To.Contains(r)) == 1));
        Assert.Equal(40, await connection.ExecuteScalarAsync<int>("select count(*)::int from outbox_messages where status = 'sent' and attempts = 1"));
    }
}
