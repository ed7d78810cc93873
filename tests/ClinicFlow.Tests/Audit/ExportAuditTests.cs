using System.Net;
using ClinicFlow.Slices.AuditTrail;
using ClinicFlow.Tests.Support;
using Sylvan.Data.Csv;

namespace ClinicFlow.Tests.AuditTrail;

/// <summary>GET /api/audit/export (<see cref="ExportAudit"/>).</summary>
public sealed class ExportAuditTests(AppFixture app) : ApiTest(app)
{
    private static readonly string[] Header =
        ["id", "seq", "occurred_at", "actor_id", "actor_type", "action", "entity_type", "entity_id", "ip", "user_agent", "changes", "hash"];

    [Fact]
    public async Task Streams_the_chain_as_csv_oldest_first()
    {
        var admin = await RegisterClinicAsync();
        await VaultEventAsync(admin, "lock", "lunch, \"back\" at 2");

        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/audit/export");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        Assert.Equal("text/csv; charset=utf-8", result.Context.Response.ContentType);
        Assert.Equal($"attachment; filename=\"audit-{DateTime.UtcNow:yyyyMMdd}.csv\"", result.Context.Response.Headers.ContentDisposition.ToString());
        var (header, rows) = await ReadCsvAsync(result);
        Assert.Equal(Header, header);
        Assert.Equal(["1", "2", "3"], rows.Select(r => r["seq"]));
        Assert.Equal(["clinic.create", "user.register", "vault.lock"], rows.Select(r => r["action"]));

        var stored = await App.QueryAsync<(Guid Id, string Hash, string Changes)>(
            "select id, encode(hash, 'hex'), changes::text from audit_log where clinic_id = @ClinicId and seq = 3", new { admin.ClinicId });
        var last = rows[^1];
        Assert.Equal(stored[0].Id.ToString(), last["id"]);
        Assert.Equal(stored[0].Hash, last["hash"]);
        Assert.Equal(stored[0].Changes, last["changes"]);
        Assert.Equal(admin.UserId.ToString(), last["actor_id"]);
        Assert.Equal("vault", last["entity_type"]);
        Assert.Matches(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$", last["occurred_at"]);
    }

    [Fact]
    public async Task Streams_a_long_chain_in_full()
    {
        var admin = await RegisterClinicAsync();
        // Bulk rows straight into the log (inserts pass the append-only trigger); only their count matters here.
        await App.ExecuteAsync("""
            insert into audit_log (clinic_id, seq, id, occurred_at, actor_id, actor_type, action, entity_type, entity_id,
                                   ip, user_agent, changes, prev_hash, hash)
            select @ClinicId, 2 + g, gen_random_uuid(), now(), null, 'system', 'bulk.row', 'bulk', g::text,
                   null, repeat('u', 200), jsonb_build_object('n', g), '\x'::bytea, '\x'::bytea
            from generate_series(1, 5000) g
            """, new { admin.ClinicId });

        var (_, rows) = await ReadCsvAsync(await ExportAsync(admin, ""));

        Assert.Equal(5002, rows.Count);
        Assert.Equal(Enumerable.Range(1, 5002).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), rows.Select(r => r["seq"]));
        Assert.Equal("""{"n": 5000}""", rows[^1]["changes"]);
    }

    [Fact]
    public async Task Neutralises_cells_a_spreadsheet_would_run_as_formulas()
    {
        var admin = await RegisterClinicAsync();
        string[] agents = ["=HYPERLINK(\"http://evil.test\",\"x\")", "+1+1", "-2+3", "@SUM(A1:A2)", "Mozilla/5.0 (safe)"];
        foreach (var agent in agents)
        {
            await VaultEventAsync(admin, "unlock", null, agent);
        }

        var (_, rows) = await ReadCsvAsync(await ExportAsync(admin, "?action=vault.unlock"));

        Assert.Equal(
            ["'=HYPERLINK(\"http://evil.test\",\"x\")", "'+1+1", "'-2+3", "'@SUM(A1:A2)", "Mozilla/5.0 (safe)"],
            rows.Select(r => r["user_agent"]));
        // Only the export is neutralised; the chain keeps what was recorded.
        var stored = await App.QueryAsync<string>(
            "select user_agent from audit_log where clinic_id = @ClinicId and action = 'vault.unlock' order by seq", new { admin.ClinicId });
        Assert.Equal(agents, stored);
    }

    [Fact]
    public async Task Applies_the_list_filters()
    {
        var admin = await RegisterClinicAsync();
        var doctor = await AddUserAsync(admin, "doctor");
        await VaultEventAsync(admin, "lock", null);
        await VaultEventAsync(doctor, "unlock", null);

        var (_, byActor) = await ReadCsvAsync(await ExportAsync(admin, $"?actorId={doctor.UserId}&entityType=vault"));
        var row = Assert.Single(byActor);
        Assert.Equal("vault.unlock", row["action"]);

        var (header, none) = await ReadCsvAsync(await ExportAsync(admin, "?to=2000-01-01T00:00:00Z"));
        Assert.Equal(Header, header);
        Assert.Empty(none);
    }

    [Fact]
    public async Task Never_exports_another_clinics_entries()
    {
        var mine = await RegisterClinicAsync();
        var theirs = await RegisterClinicAsync();
        await VaultEventAsync(theirs, "lock", "theirs");

        var (_, rows) = await ReadCsvAsync(await ExportAsync(mine, ""));
        var ids = rows.Select(r => Guid.Parse(r["id"])).ToArray();
        Assert.Equal(2, ids.Length);
        var clinics = await App.QueryAsync<Guid>("select distinct clinic_id from audit_log where id = any(@ids)", new { ids });
        Assert.Equal([mine.ClinicId!.Value], clinics);

        var (_, filtered) = await ReadCsvAsync(await ExportAsync(mine, $"?entityId={theirs.UserId}"));
        Assert.Empty(filtered);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s =>
        {
            s.Get.Url("/api/audit/export");
        });
    }

    [Theory]
    [InlineData("doctor")]
    [InlineData("staff")]
    public async Task Refuses_non_admins(string role)
    {
        await AssertRefusedForRoleAsync(role, s =>
        {
            s.Get.Url("/api/audit/export");
        });
    }

    [Theory]
    [InlineData("?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z", "from")]
    [InlineData("?from=soon", "from")]
    [InlineData("?to=later", "to")]
    [InlineData("?actorId=42", "actorId")]
    public async Task Rejects_bad_query_with_details(string query, string field)
    {
        var admin = await RegisterClinicAsync();

        await AssertInvalidAsync(field, s =>
        {
            s.Get.Url("/api/audit/export" + query);
            s.WithBearerToken(admin.Token);
        });
    }

    private Task<IScenarioResult> ExportAsync(Account account, string query) =>
        Host.Scenario(s =>
        {
            s.Get.Url("/api/audit/export" + query);
            s.WithBearerToken(account.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

    private Task<IScenarioResult> VaultEventAsync(Account account, string @event, string? reason, string? userAgent = null) =>
        Host.Scenario(s =>
        {
            s.Post.Json(new RecordVaultEvent.Request(@event, reason)).ToUrl("/api/audit/vault-event");
            s.WithBearerToken(account.Token);
            if (userAgent is not null)
            {
                s.WithRequestHeader("User-Agent", userAgent);
            }

            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });

    private static async Task<(string[] Header, List<Dictionary<string, string>> Rows)> ReadCsvAsync(IScenarioResult result)
    {
        using var text = new StringReader(await result.ReadAsTextAsync());
        await using var csv = await CsvDataReader.CreateAsync(text);
        var header = Enumerable.Range(0, csv.FieldCount).Select(csv.GetName).ToArray();
        var rows = new List<Dictionary<string, string>>();
        while (await csv.ReadAsync())
        {
            rows.Add(header.Select((name, i) => (name, value: csv.GetString(i))).ToDictionary(p => p.name, p => p.value));
        }

        return (header, rows);
    }
}
