using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Auth;
using ClinicFlow.Slices.AuditTrail;
using ClinicFlow.Tests.Support;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace ClinicFlow.Tests.AuditTrail;

/// <summary>The guarantees of the audit writer every slice relies on (Infrastructure/Audit.cs).</summary>
public sealed class AuditWriterTests(AppFixture app) : ApiTest(app)
{
    [Fact]
    public async Task An_entry_lives_and_dies_with_its_transaction()
    {
        var admin = await RegisterClinicAsync();
        var clinicId = admin.ClinicId!.Value;
        await using var connection = await Host.Services.GetRequiredService<NpgsqlDataSource>().OpenConnectionAsync(Ct);
        var tenant = await WritingTenantAsync(admin, connection);
        await tenant.AuditAsync("test.rolled_back", "test", 42, new { step = 1 }, Ct);
        // Queued for the commit: nothing written yet.
        Assert.Equal(2L, await tenant.ExecuteScalarAsync<long>(
            "select seq from audit_heads where clinic_id = @clinicId", new { clinicId }, Ct));
        await tenant.RunQueuedAsync(Ct);
        Assert.Equal(3L, await tenant.ExecuteScalarAsync<long>(
            "select seq from audit_heads where clinic_id = @clinicId", new { clinicId }, Ct));
        await tenant.RollbackAsync();

        Assert.Null(await LastAuditAsync(clinicId, "test.rolled_back"));
        Assert.Equal(2L, await App.ScalarAsync<long>("select seq from audit_heads where clinic_id = @clinicId", new { clinicId }));
        // The next entry takes the seq the rolled-back one had: no gap, and the chain stays valid.
        await VaultEventAsync(admin);
        Assert.Equal([1L, 2L, 3L], await App.QueryAsync<long>("select seq from audit_log where clinic_id = @clinicId order by seq", new { clinicId }));
        Assert.True((await VerifyAsync(admin)).Valid);
    }

    [Fact]
    public async Task A_request_that_fails_after_writing_leaves_no_entry()
    {
        var first = await RegisterClinicAsync();
        var clinicName = "Twin " + Guid.NewGuid();

        await Host.Scenario(s =>
        {
            s.Post.Json(new Register.Request(first.Email, Password, null, clinicName, null, null, null, null)).ToUrl("/api/auth/register");
            s.StatusCodeShouldBe(HttpStatusCode.Conflict);
        });

        Assert.Equal(0, await App.ScalarAsync<int>(
            "select count(*)::int from audit_log where action = 'clinic.create' and changes ->> 'name' = @clinicName", new { clinicName }));
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from clinics where name = @clinicName", new { clinicName }));
    }

    [Fact]
    public async Task An_append_that_fails_with_the_commit_leaves_nothing_of_the_request()
    {
        var admin = await RegisterClinicAsync();
        var clinicId = admin.ClinicId!.Value;
        var trigger = "tr_refuse_" + Guid.NewGuid().ToString("N");
        var seqBefore = await App.ScalarAsync<long>("select seq from audit_heads where clinic_id = @clinicId", new { clinicId });

        // The entry is appended in the message that carries COMMIT; the server refuses it there.
        await App.ExecuteAsync($"""
            create function {trigger}() returns trigger language plpgsql as $$
            begin
                if new.clinic_id = '{clinicId}' and new.action = 'patient.create' then
                    raise exception 'refused by the test';
                end if;
                return new;
            end $$;
            create trigger {trigger} before insert on audit_log for each row execute function {trigger}();
            """);
        try
        {
            var result = await Host.Scenario(s =>
            {
                s.Post.Json(new { fullName = "Never Written" }).ToUrl("/api/patients");
                s.WithBearerToken(admin.Token);
                s.StatusCodeShouldBe(HttpStatusCode.InternalServerError);
            });
            await ErrorAsync(result, ErrorCodes.InternalError);
        }
        finally
        {
            await App.ExecuteAsync($"drop trigger {trigger} on audit_log; drop function {trigger}();");
        }

        Assert.Equal(0, await App.ScalarAsync<int>(
            "select count(*)::int from patients where clinic_id = @clinicId and full_name = 'Never Written'", new { clinicId }));
        Assert.Equal(seqBefore, await App.ScalarAsync<long>("select seq from audit_heads where clinic_id = @clinicId", new { clinicId }));
        Assert.True((await VerifyAsync(admin)).Valid);
    }

    [Fact]
    public async Task Several_entries_of_one_request_chain_in_the_order_they_were_written()
    {
        var admin = await RegisterClinicAsync();
        var clinicId = admin.ClinicId!.Value;
        await using var connection = await Host.Services.GetRequiredService<NpgsqlDataSource>().OpenConnectionAsync(Ct);
        var tenant = await WritingTenantAsync(admin, connection);
        for (var step = 1; step <= 10; step++)
        {
            await tenant.AuditAsync("test.step", "test", step, new { step }, Ct);
        }

        await tenant.CommitAsync();

        Assert.Equal(Enumerable.Range(1, 10).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            await App.QueryAsync<string>(
                "select entity_id from audit_log where clinic_id = @clinicId and action = 'test.step' order by seq", new { clinicId }));
        Assert.True((await VerifyAsync(admin)).Valid);
    }

    [Fact]
    public async Task Chains_each_entry_to_the_previous_one()
    {
        var admin = await RegisterClinicAsync();
        await VaultEventAsync(admin);

        var links = await App.QueryAsync<bool>("""
            select prev_hash = coalesce(lag(hash) over (order by seq), '\x'::bytea)
               and hash = audit_digest(prev_hash, clinic_id, seq, id, occurred_at, actor_id, actor_type, action,
                                       entity_type, entity_id, ip, user_agent, changes)
            from audit_log where clinic_id = @ClinicId order by seq
            """, new { admin.ClinicId });
        Assert.Equal([true, true, true], links);
    }

    [Fact]
    public async Task Keeps_the_user_agent_to_500_characters()
    {
        var admin = await RegisterClinicAsync();

        await VaultEventAsync(admin, new string('a', 800));

        Assert.Equal(500, await App.ScalarAsync<int>(
            "select length(user_agent) from audit_log where clinic_id = @ClinicId and action = 'vault.lock'", new { admin.ClinicId }));
    }

    // The tenant as the gate attaches it to a writing request: settings and check travel with its first statement.
    private async Task<Tenant> WritingTenantAsync(Account admin, NpgsqlConnection connection)
    {
        var tokenVersion = await App.ScalarAsync<int>("select token_version from users where id = @UserId", new { admin.UserId });
        var tenant = new Tenant(new DefaultHttpContext());
        tenant.Attach(connection, writes: true);
        tenant.Claim(admin.UserId, admin.ClinicId, tokenVersion);
        return tenant;
    }

    private Task<IScenarioResult> VaultEventAsync(Account account, string? userAgent = null) =>
        Host.Scenario(s =>
        {
            s.Post.Json(new RecordVaultEvent.Request("lock", null)).ToUrl("/api/audit/vault-event");
            s.WithBearerToken(account.Token);
            if (userAgent is not null)
            {
                s.WithRequestHeader("User-Agent", userAgent);
            }

            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });

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
}
