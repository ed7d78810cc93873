using ClinicFlow.Tests.Support;
using Dapper;
using Npgsql;

namespace ClinicFlow.Tests.Platform;

/// <summary>The WhatsApp channel of the outbox against its own fake Graph API: retries, gives up, and sends once across instances.</summary>
public sealed class WhatsAppOutboxTests(AppFixture app) : WhatsAppTest(app)
{
    private static async Task<Guid> EnqueueAsync(string adminConnectionString, Guid? clinicId, string to)
    {
        var id = Guid.CreateVersion7();
        await using var connection = new NpgsqlConnection(adminConnectionString);
        await connection.ExecuteAsync("""
            insert into outbox_messages (id, clinic_id, channel, recipient, payload, kind)
            values (@id, @clinicId, 'whatsapp', @to, '{"text":"Hola"}', 'reply')
            """, new { id, clinicId, to });
        return id;
    }

    private static async Task<(string Status, int Attempts, string? LastError, string? ProviderMessageId)> WaitForStatusAsync(
        string adminConnectionString, Guid id, string status)
    {
        await using var connection = new NpgsqlConnection(adminConnectionString);
        for (var i = 0; i < 300; i++)
        {
            var row = await connection.QuerySingleAsync<(string Status, int Attempts, string? LastError, string? ProviderMessageId)>(
                "select status, attempts, last_error, provider_message_id from outbox_messages where id = @id", new { id });
            if (row.Status == status)
            {
                return row;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"Message {id} never reached {status}.");
    }

    private async Task<(IsolatedHost Host, Account Admin, string PhoneNumberId)> IsolatedAsync(GraphFake graph, Dictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?> { ["WhatsApp:GraphBaseUrl"] = graph.BaseUrl };
        foreach (var (key, value) in extra ?? [])
        {
            settings[key] = value;
        }

        var isolated = await App.StartIsolatedAsync(settings);
        var admin = await RegisterClinicAsync(host: isolated.Host);
        var phoneNumberId = await EnableWhatsAppAsync(admin, isolated.Host);
        return (isolated, admin, phoneNumberId);
    }

    [Fact]
    public async Task Retries_after_a_500_and_delivers()
    {
        await using var graph = await GraphFake.StartAsync();
        var (isolated, admin, phoneNumberId) = await IsolatedAsync(graph);
        graph.FailNext(1);

        var id = await EnqueueAsync(isolated.AdminConnectionString, admin.ClinicId, "+5491122334455");
        var sent = await WaitForStatusAsync(isolated.AdminConnectionString, id, "sent");

        Assert.Equal(2, sent.Attempts);
        Assert.Equal([500, 200], graph.RequestsFor(phoneNumberId).Select(r => r.Status));
        Assert.Equal(graph.RequestsFor(phoneNumberId)[1].MessageId, sent.ProviderMessageId);
    }

    [Fact]
    public async Task Gives_up_after_the_maximum_attempts()
    {
        await using var graph = await GraphFake.StartAsync();
        var (isolated, admin, phoneNumberId) = await IsolatedAsync(graph, new() { ["Outbox:MaxAttempts"] = "3", ["Outbox:RetryBaseSeconds"] = "0.1" });
        graph.FailNext(100);

        var id = await EnqueueAsync(isolated.AdminConnectionString, admin.ClinicId, "+5491122334455");
        var failed = await WaitForStatusAsync(isolated.AdminConnectionString, id, "failed");

        Assert.Equal(3, failed.Attempts);
        Assert.Contains("500", failed.LastError, StringComparison.Ordinal);
        Assert.DoesNotContain(AccessToken, failed.LastError, StringComparison.Ordinal);
        await Task.Delay(500, Ct);
        Assert.Equal(3, graph.RequestsFor(phoneNumberId).Count);
    }

    [Fact]
    public async Task Two_instances_on_one_database_send_each_message_exactly_once()
    {
        await using var graph = await GraphFake.StartAsync();
        var (first, admin, phoneNumberId) = await IsolatedAsync(graph, new() { ["Outbox:BatchSize"] = "3" });
        var appConnection = new NpgsqlConnectionStringBuilder(first.AdminConnectionString)
        {
            Username = PostgresCluster.AppRole,
            Password = PostgresCluster.AppPassword,
        }.ConnectionString;
        await App.StartIsolatedAsync(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = appConnection,
            ["WhatsApp:GraphBaseUrl"] = graph.BaseUrl,
            ["Outbox:BatchSize"] = "3",
        });

        await using var connection = new NpgsqlConnection(first.AdminConnectionString);
        var recipients = Enumerable.Range(0, 40).Select(i => $"+54911{i:D8}").ToList();
        await connection.ExecuteAsync("""
            insert into outbox_messages (id, clinic_id, channel, recipient, payload, kind)
            select gen_random_uuid(), @ClinicId, 'whatsapp', r, '{"text":"Hola"}', 'reply' from unnest(@recipients) r
            """, new { admin.ClinicId, recipients });

        await WaitUntilAsync(() => Task.FromResult(graph.RequestsFor(phoneNumberId).Count >= 40), "40 messages sent", 180);
        await Task.Delay(500, Ct);

        var requests = graph.RequestsFor(phoneNumberId);
        Assert.Equal(40, requests.Count);
        Assert.Equal(recipients.Select(r => r.TrimStart('+')).Order(), requests.Select(r => r.To).Order());
        Assert.Equal(40, await connection.ExecuteScalarAsync<int>(
            "select count(*)::int from outbox_messages where channel = 'whatsapp' and status = 'sent' and attempts = 1"));
    }
}
