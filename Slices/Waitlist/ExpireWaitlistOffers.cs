using ClinicFlow.Infrastructure;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;

namespace ClinicFlow.Slices.Waitlist;

public sealed class WaitlistOptions
{
    /// <summary>How often the expiry worker looks for offers past their time and windows that ended.</summary>
    public double IntervalSeconds { get; set; } = 60;

    public int BatchSize { get; set; } = 200;

    public bool Enabled { get; set; } = true;
}

/// <summary>What one pass of the expiry worker changed.</summary>
public sealed record WaitlistExpiryPass(int Offers, int Entries);

public static class WaitlistSetup
{
    /// <summary>The expiry worker; also a singleton, so a test or an operator task can run one pass.</summary>
    public static IServiceCollection AddWaitlist(this IServiceCollection services)
    {
        services.AddOptions<WaitlistOptions>().BindConfiguration("Waitlist")
            .Validate(o => o.IntervalSeconds > 0 && o.BatchSize > 0, "Waitlist needs a positive IntervalSeconds and BatchSize.")
            .ValidateOnStart();
        services.AddSingleton<ExpireWaitlistOffers>();
        services.AddHostedService(sp => sp.GetRequiredService<ExpireWaitlistOffers>());
        return services;
    }
}

/// <summary>
/// The background worker of the waitlist: offers past <c>expires_at</c> expire (the entry waits again,
/// or expires when its window is over) and waiting entries whose window ended expire. Rows are
/// claimed with FOR UPDATE SKIP LOCKED, so several instances share the work and never wait on a
/// patient's reply being handled; every step is audited in the clinic's chain (actor system), in the
/// same transaction.
/// </summary>
public sealed partial class ExpireWaitlistOffers(NpgsqlDataSource db, IOptions<WaitlistOptions> options, ILogger<ExpireWaitlistOffers> logger)
    : PeriodicWorker(logger)
{
    private const string ClaimOffersSql = """
        select o.id, o.clinic_id, o.entry_id, e.window_to
        from waitlist_offers o
        join waitlist_entries e on e.clinic_id = o.clinic_id and e.id = o.entry_id
        where o.status = 'offered' and o.expires_at <= now()
        order by o.expires_at
        limit @Batch
        for update of o, e skip locked
        """;

    private const string ClaimEntriesSql = """
        select id, clinic_id
        from waitlist_entries
        where status = 'waiting' and window_to <= now()
        order by window_to
        limit @Batch
        for update skip locked
        """;

    private sealed record DueOffer(Guid Id, Guid ClinicId, Guid EntryId, DateTimeOffset WindowTo);

    private sealed record DueEntry(Guid Id, Guid ClinicId);

    protected override string JobName => "Waitlist expiry";

    protected override bool Enabled => options.Value.Enabled;

    protected override TimeSpan Interval => TimeSpan.FromSeconds(options.Value.IntervalSeconds);

    protected override async Task<bool> RunPassAsync(CancellationToken ct)
    {
        var pass = await ExpireOnceAsync(ct);
        return pass.Offers >= options.Value.BatchSize || pass.Entries >= options.Value.BatchSize;
    }

    /// <summary>One pass: at most one batch of offers past their time, then one batch of entries whose window ended.</summary>
    public async Task<WaitlistExpiryPass> ExpireOnceAsync(CancellationToken ct)
    {
        var batch = options.Value.BatchSize;
        var offers = 0;
        await using (var system = await SystemConnection.BeginAsync(db, ct))
        {
            var now = DateTimeOffset.UtcNow;
            var due = await system.Connection.QueryAsync<DueOffer>(new CommandDefinition(ClaimOffersSql, new { Batch = batch },
                system.Transaction, cancellationToken: ct));
            foreach (var offer in due)
            {
                if (await WaitlistMachine.ExpireOfferAsync(system.Connection, system.Transaction, offer.ClinicId, offer.Id, offer.EntryId,
                        offer.WindowTo, now, ct))
                {
                    offers++;
                }
            }

            await system.Transaction.CommitAsync(ct);
        }

        var entries = 0;
        await using (var system = await SystemConnection.BeginAsync(db, ct))
        {
            var due = await system.Connection.QueryAsync<DueEntry>(new CommandDefinition(ClaimEntriesSql, new { Batch = batch },
                system.Transaction, cancellationToken: ct));
            foreach (var entry in due)
            {
                if (await WaitlistMachine.ExpireEntryAsync(system.Connection, system.Transaction, entry.ClinicId, entry.Id, ct))
                {
                    entries++;
                }
            }

            await system.Transaction.CommitAsync(ct);
        }

        if (offers + entries > 0)
        {
            LogExpired(logger, offers, entries);
        }

        return new WaitlistExpiryPass(offers, entries);
    }

    [LoggerMessage(EventId = 50, Level = LogLevel.Information, Message = "Waitlist expiry: {Offers} offers expired, {Entries} entries past their window")]
    private static partial void LogExpired(ILogger logger, int offers, int entries);
}
