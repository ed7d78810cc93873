using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.AuditTrail;
using ClinicFlow.Tests.Support;
using Npgsql;

namespace ClinicFlow.Tests.AuditTrail;

public sealed class VerifyAuditTests(AppFixture app) : ApiTest(app)
{
    // As the superuser, replica mode skips the append-only trigger without any DDL: what an attacker
    // with database access could do, and what the chain must reveal.
    private const string Tamper = """
        set session_replication_role = replica;
        update audit_log set changes = '{"x":1}' where clinic_id = @ClinicId and seq = 2;
        set session_replication_role = origin;
        """;

    [Fact]
    public async Task Finds_a_fresh_chain_valid()
    {
        var admin = await RegisterClinicAsync();
        await VaultEventAsync(admin);

        var verdict = await VerifyAsync(admin);

        Assert.True(verdict.Valid);
        Assert.Equal(3, verdict.Entries);
        Assert.Null(verdict.FirstBrokenId);
        Assert.Equal(3, await App.ScalarAsync<long>("select count(*) from audit_log where clinic_id = @ClinicId", new { admin.ClinicId }));
    }

    [Fact]
    public async Task Detects_an_altered_entry_and_names_it()
    {
        var admin = await RegisterClinicAsync();
        await VaultEventAsync(admin);
        await App.ExecuteAsync(Tamper, new { admin.ClinicId });
        Assert.Equal("""{"x": 1}""", await App.ScalarAsync<string>(
            "select changes::text from audit_log where clinic_id = @ClinicId and seq = 2", new { admin.ClinicId }));

        var verdict = await VerifyAsync(admin);

        Assert.False(verdict.Valid);
        Assert.Equal(3, verdict.Entries);
        Assert.Equal(await EntryIdAsync(admin, 2), verdict.FirstBrokenId);
    }

    [Fact]
    public async Task Detects_a_deleted_last_entry()
    {
        var admin = await RegisterClinicAsync();
        await VaultEventAsync(admin);
        await App.ExecuteAsync("""
            set session_replication_role = replica;
            delete from audit_log where clinic_id = @ClinicId and seq = 3;
            set session_replication_role = origin;
            """, new { admin.ClinicId });

        var verdict = await VerifyAsync(admin);

        Assert.False(verdict.Valid);
        Assert.Equal(2, verdict.Entries);
        Assert.Null(verdict.FirstBrokenId);
    }

    [Fact]
    public async Task Detects_a_deleted_entry_in_the_middle()
    {
        var admin = await RegisterClinicAsync();
        await VaultEventAsync(admin);
        await App.ExecuteAsync("""
            set session_replication_role = replica;
            delete from audit_log where clinic_id = @ClinicId and seq = 2;
            set session_replication_role = origin;
            """, new { admin.ClinicId });

        var verdict = await VerifyAsync(admin);

        Assert.False(verdict.Valid);
        Assert.Equal(await EntryIdAsync(admin, 3), verdict.FirstBrokenId);
    }

    [Fact]
    public async Task Is_not_affected_by_another_clinics_tampering()
    {
        var mine = await RegisterClinicAsync();
        var theirs = await RegisterClinicAsync();
        await App.ExecuteAsync(Tamper, new { theirs.ClinicId });

        Assert.True((await VerifyAsync(mine)).Valid);
        Assert.Equal(await EntryIdAsync(theirs, 2), (await VerifyAsync(theirs)).FirstBrokenId);
    }

    [Theory]
    [InlineData("update audit_log set changes = '{\"x\":1}' where clinic_id = @ClinicId and seq = 2")]
    [InlineData("delete from audit_log where clinic_id = @ClinicId and seq = 2")]
    public async Task The_log_refuses_plain_updates_and_deletes(string sql)
    {
        var admin = await RegisterClinicAsync();

        var refused = await Assert.ThrowsAsync<PostgresException>(() => App.ExecuteAsync(sql, new { admin.ClinicId }));

        Assert.Equal(PostgresErrorCodes.RaiseException, refused.SqlState);
        Assert.Equal("audit_log is append-only", refused.MessageText);
        Assert.True((await VerifyAsync(admin)).Valid);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s =>
        {
            s.Get.Url("/api/audit/verify");
        });
    }

    [Theory]
    [InlineData("doctor")]
    [InlineData("staff")]
    public async Task Refuses_non_admins(string role)
    {
        await AssertRefusedForRoleAsync(role, s =>
        {
            s.Get.Url("/api/audit/verify");
        });
    }

    private async Task<VerifyAudit.Response> VerifyAsync(Account admin)
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/audit/verify");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        return await result.ReadAsJsonAsync<VerifyAudit.Response>();
    }

    private Task<Guid> EntryIdAsync(Account admin, long seq) =>
        App.ScalarAsync<Guid>("select id from audit_log where clinic_id = @ClinicId and seq = @seq", new { admin.ClinicId, seq });

    private Task<IScenarioResult> VaultEventAsync(Account account) =>
        Host.Scenario(s =>
        {
            s.Post.Json(new RecordVaultEvent.Request("lock", null)).ToUrl("/api/audit/vault-event");
            s.WithBearerToken(account.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
}
