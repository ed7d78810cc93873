using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;

namespace ClinicFlow.Infrastructure;

public sealed class RetentionOptions
{
    /// <summary>How often the purge looks for records whose retention ended.</summary>
    public double IntervalSeconds { get; set; } = 3600;

    public int BatchSize { get; set; } = 200;

    public bool Enabled { get; set; } = true;
}

/// <summary>What one pass of the purge removed.</summary>
public sealed record RetentionPass(int ConsentForms, int Patients);

/// <summary>
/// Ends the retention duty (§ 630f BGB, DSGVO Art. 17(3)(b)): consent records whose
/// <c>retain_until</c> has passed are deleted, then the tombstones of erased patients whose
/// <c>retain_until</c> has passed and that nothing retained points at any more. Rows are claimed
/// with FOR UPDATE SKIP LOCKED, so several instances never purge the same row twice; each removal
/// is audited in the clinic's chain, in the same transaction. A row another record still references
/// (a foreign key says so) is skipped and tried again on a later pass.
/// </summary>
public sealed partial class RetentionPurge(NpgsqlDataSource db, IOptions<RetentionOptions> options, ILogger<RetentionPurge> logger)
    : PeriodicWorker(logger)
{

    private sealed record Claimed(Guid Id, Guid ClinicId);

    private const string ClaimConsentsSql = """
        select id, clinic_id from consent_forms
        where retain_until < now()
        order by retain_until
        limit @Batch
        for update skip locked
        """;

    private const string DeleteConsentSql = "delete from consent_forms where clinic_id = @ClinicId and id = @Id";

    private const string ClaimPatientsSql = """
        select p.id, p.clinic_id from patients p
        where p.erased_at is not null and p.retain_until < now()
          and not exists (select 1 from consent_forms f where f.clinic_id = p.clinic_id and f.patient_id = p.id)
          and not exists (select 1 from appointments a where a.clinic_id = p.clinic_id and a.patient_id = p.id)
        order by p.retain_until
        limit @Batch
        for update of p skip locked
        """;

    private const string DeletePatientSql = "delete from patients where clinic_id = @ClinicId and id = @Id and erased_at is not null";

    protected override string JobName => "Retention purge";

    protected override bool Enabled => options.Value.Enabled;

    protected override TimeSpan Interval => TimeSpan.FromSeconds(options.Value.IntervalSeconds);

    protected override async Task<bool> RunPassAsync(CancellationToken ct)
    {
        var pass = await PurgeOnceAsync(ct);
        return pass.ConsentForms >= options.Value.BatchSize || pass.Patients >= options.Value.BatchSize;
    }

    /// <summary>One pass: at most one batch of consent records, then one batch of tombstones.</summary>
    public async Task<RetentionPass> PurgeOnceAsync(CancellationToken ct)
    {
        var consents = await PurgeBatchAsync(ClaimConsentsSql, DeleteConsentSql, "consent.purge", "consent_form", ct);
        var patients = await PurgeBatchAsync(ClaimPatientsSql, DeletePatientSql, "patient.purge", "patient", ct);
        if (consents + patients > 0)
        {
            LogPurged(logger, consents, patients);
        }

        return new RetentionPass(consents, patients);
    }

    private async Task<int> PurgeBatchAsync(string claimSql, string deleteSql, string action, string entityType, CancellationToken ct)
    {
        await using var system = await SystemConnection.BeginAsync(db, ct);
        var connection = system.Connection;
        var claimed = (await connection.QueryAsync<Claimed>(new CommandDefinition(claimSql,
            new { Batch = options.Value.BatchSize }, system.Transaction, cancellationToken: ct))).ToList();
        var purged = 0;
        foreach (var row in claimed)
        {
            await system.Transaction.SaveAsync("purge_row", ct);
            try
            {
                await connection.ExecuteAsync(new CommandDefinition(deleteSql, new { row.ClinicId, row.Id }, system.Transaction, cancellationToken: ct));
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.ForeignKeyViolation)
            {
                // still referenced by a record under its own retention: a later pass tries again
                await system.Transaction.RollbackAsync("purge_row", ct);
                continue;
            }

            await Audit.AppendSystemAsync(connection, system.Transaction, row.ClinicId, action, entityType, row.Id,
                new { reason = "retention_ended" }, ct);
            await system.Transaction.ReleaseAsync("purge_row", ct);
            purged++;
        }

        await system.Transaction.CommitAsync(ct);
        return purged;
    }

    [LoggerMessage(EventId = 30, Level = LogLevel.Information, Message = "Retention purge removed {ConsentForms} consent records and {Patients} patient tombstones")]
    private static partial void LogPurged(ILogger logger, int consentForms, int patients);
}

public static class RetentionSetup
{
    /// <summary>The purge worker; also a singleton, so a test or an operator task can run one pass.</summary>
    public static IServiceCollection AddRetentionPurge(this IServiceCollection services)
    {
        services.AddOptions<RetentionOptions>().BindConfiguration("Retention")
            .Validate(o => o.IntervalSeconds > 0 && o.BatchSize > 0, "Retention needs a positive IntervalSeconds and BatchSize.")
            .ValidateOnStart();
        services.AddSingleton<RetentionPurge>();
        services.AddHostedService(sp => sp.GetRequiredService<RetentionPurge>());
        return services;
    }
}
