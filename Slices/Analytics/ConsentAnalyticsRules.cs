using ClinicFlow.Infrastructure;

namespace ClinicFlow.Slices.Analytics;

/// <summary>
/// What the consent analytics share: the window (local dates of the clinic's zone, default the
/// last 30 days, at most 366) and the counts of the forms created in it. A form counts once, in
/// its current status; "opened" counts forms whose link was read or submitted.
/// </summary>
public static class ConsentAnalyticsRules
{
    public const int DefaultDays = 30;
    public const int MaxDays = 366;

    /// <summary>The window as the clinic's local dates and the instants that bound it.</summary>
    public sealed record Window(DateOnly From, DateOnly To, string Timezone, DateTimeOffset FromInstant, DateTimeOffset ToInstant);

    private const string TimezoneSql = "select timezone from clinics where id = @ClinicId";

    /// <summary>Aggregates of the forms (alias f) of one group; the status logic is ConsentRules.StatusSql's.</summary>
    public const string CountsSql = """
        count(*)::int as sent,
        count(*) filter (where f.opened_at is not null or f.submitted_at is not null)::int as opened,
        count(*) filter (where f.submitted_at is not null and f.revoked_at is null)::int as submitted,
        count(*) filter (where f.revoked_at is null and f.submitted_at is null and f.expires_at > now())::int as pending,
        count(*) filter (where f.revoked_at is not null)::int as revoked,
        count(*) filter (where f.revoked_at is null and f.submitted_at is null and f.expires_at <= now())::int as expired,
        (percentile_cont(0.5) within group (order by extract(epoch from f.submitted_at - f.created_at))
            filter (where f.submitted_at is not null))::float8 as median_seconds_to_submit
        """;

    /// <summary>Reads <c>from</c>/<c>to</c> (YYYY-MM-DD, both inclusive) into the window, or the 400 naming the bad one.</summary>
    public static async Task<(Window? Window, ApiProblem? Problem)> ReadWindowAsync(Tenant tenant, string? fromText, string? toText,
        TimeProvider clock, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        ArgumentNullException.ThrowIfNull(clock);
        if (!TryDate(fromText, out var from))
        {
            return (null, BadDate("from"));
        }

        if (!TryDate(toText, out var to))
        {
            return (null, BadDate("to"));
        }

        var timezone = (await tenant.QuerySingleAsync<string>(TimezoneSql, new { tenant.ClinicId }, ct)).Trim();
        var zone = TimeZoneInfo.FindSystemTimeZoneById(timezone);
        var today = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(clock.GetUtcNow(), zone).DateTime);
        var last = to ?? today;
        var first = from ?? last.AddDays(-(DefaultDays - 1));
        if (last < first)
        {
            return (null, ApiProblem.Validation("to", new("to must not lie before from.", "to no puede ser anterior a from.", "to darf nicht vor from liegen.")));
        }

        if (last.DayNumber - first.DayNumber + 1 > MaxDays)
        {
            return (null, ApiProblem.Validation("from", new(
                $"The window holds at most {MaxDays} days.", $"El periodo abarca como máximo {MaxDays} días.", $"Der Zeitraum umfasst höchstens {MaxDays} Tage.")));
        }

        return (new Window(first, last, timezone, StartOf(first, zone), StartOf(last.AddDays(1), zone)), null);
    }

    private static bool TryDate(string? text, out DateOnly? date)
    {
        date = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            return true;
        }

        if (DateOnly.TryParseExact(text.Trim(), "yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture,
                System.Globalization.DateTimeStyles.None, out var parsed))
        {
            date = parsed;
            return true;
        }

        return false;
    }

    private static ApiProblem BadDate(string field) =>
        ApiProblem.Validation(field, new("Use a date as YYYY-MM-DD.", "Use una fecha como AAAA-MM-DD.", "Geben Sie ein Datum als JJJJ-MM-TT an."));

    private static DateTimeOffset StartOf(DateOnly date, TimeZoneInfo zone)
    {
        var local = date.ToDateTime(TimeOnly.MinValue);
        // a midnight that a DST change skips starts at the change
        while (zone.IsInvalidTime(local))
        {
            local = local.AddMinutes(30);
        }

        return new DateTimeOffset(local, zone.GetUtcOffset(local)).ToUniversalTime();
    }
}
