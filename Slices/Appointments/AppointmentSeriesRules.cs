using ClinicFlow.Infrastructure;
using Ical.Net;
using Ical.Net.CalendarComponents;
using Ical.Net.DataTypes;

namespace ClinicFlow.Slices.Appointments;

/// <summary>
/// What the series slices share: the RRULE subset of SPEC, read and expanded by Ical.Net in the
/// clinic's zone (a weekly 09:00 stays 09:00 across DST changes), and the booking checks of every
/// occurrence, answered date by date. The single-booking rules themselves stay in
/// <see cref="AppointmentRules"/>.
/// </summary>
public static class AppointmentSeriesRules
{
    public const string AllOrNothing = "all_or_nothing";
    public const string SkipConflicts = "skip_conflicts";
    public static readonly string[] Modes = [AllOrNothing, SkipConflicts];

    public const int MaxCount = 52;

    /// <summary>Why an occurrence cannot be booked (the code its 409 would carry, lower-cased).</summary>
    public const string ReasonOverlap = "appointment_conflict";
    public const string ReasonOutsideSchedule = "outside_schedule";

    /// <summary>One occurrence as an instant range, with the local date it falls on.</summary>
    public sealed record Occurrence(DateOnly Date, DateTimeOffset Start, DateTimeOffset End);

    /// <summary>One occurrence that cannot be booked, and why.</summary>
    public sealed record Conflict(Occurrence Occurrence, string Reason);

    /// <summary>
    /// Reads <paramref name="rule"/> (with or without the <c>RRULE:</c> prefix) and expands it from
    /// <paramref name="start"/> in <paramref name="zone"/>; the answer is the occurrences, or the
    /// message for a 400 on <c>recurrence</c>.
    /// </summary>
    public static (List<Occurrence>? Occurrences, Text? Error) Expand(string rule, DateTimeOffset start, TimeSpan duration, TimeZoneInfo zone)
    {
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentNullException.ThrowIfNull(zone);
        var text = rule.Trim();
        if (text.StartsWith("RRULE:", StringComparison.OrdinalIgnoreCase))
        {
            text = text[6..];
        }

        RecurrencePattern pattern;
        try
        {
            pattern = new RecurrencePattern(text);
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            return (null, new Text(
                "recurrence is not a valid RFC 5545 RRULE.",
                "recurrence no es una RRULE válida según RFC 5545.",
                "recurrence ist keine gültige RRULE nach RFC 5545."));
        }

        if (pattern.Frequency is not (FrequencyType.Daily or FrequencyType.Weekly or FrequencyType.Monthly))
        {
            return (null, new Text(
                "recurrence must use FREQ=DAILY, WEEKLY or MONTHLY.",
                "recurrence debe usar FREQ=DAILY, WEEKLY o MONTHLY.",
                "recurrence muss FREQ=DAILY, WEEKLY oder MONTHLY verwenden."));
        }

        if (pattern.ByHour.Count > 0 || pattern.ByMinute.Count > 0 || pattern.BySecond.Count > 0)
        {
            return (null, new Text(
                "recurrence takes the time of day from startsAt: BYHOUR, BYMINUTE and BYSECOND are not allowed.",
                "recurrence toma la hora de startsAt: BYHOUR, BYMINUTE y BYSECOND no están permitidos.",
                "recurrence übernimmt die Uhrzeit aus startsAt: BYHOUR, BYMINUTE und BYSECOND sind nicht erlaubt."));
        }

        var local = TimeZoneInfo.ConvertTime(start, zone).DateTime;
        var firstDate = DateOnly.FromDateTime(local);
        var bounded = (pattern.Count, pattern.Until) switch
        {
            ({ } count, null) => count is >= 1 and <= MaxCount,
            (null, { } until) => DateOnly.FromDateTime(until.Value) <= firstDate.AddYears(1),
            _ => false,
        };
        if (!bounded)
        {
            return (null, new Text(
                $"recurrence needs COUNT (at most {MaxCount}) or UNTIL (at most one year after the first occurrence), not both.",
                $"recurrence necesita COUNT (como máximo {MaxCount}) o UNTIL (como máximo un año después de la primera cita), no ambos.",
                $"recurrence braucht COUNT (höchstens {MaxCount}) oder UNTIL (höchstens ein Jahr nach dem ersten Termin), nicht beides."));
        }

        // The first start as a wall-clock time in the clinic's zone: every occurrence keeps it.
        var series = new CalendarEvent
        {
            DtStart = new CalDateTime(new DateTime(local.Ticks, DateTimeKind.Unspecified), ZoneIdOf(zone)),
            Duration = Duration.FromMinutes((int)duration.TotalMinutes),
            RecurrenceRule = pattern,
        };

        // COUNT ≤ 52 or UNTIL ≤ one year bound the expansion already (a daily year is 366); the cap
        // only guards against a rule the checks above failed to bound.
        var occurrences = series.GetOccurrences()
            .Take(400)
            .Select(o => ToOccurrence(o.Period.StartTime, duration, zone))
            .ToList();
        return occurrences.Count == 0
            ? (null, new Text("recurrence has no occurrence.", "recurrence no tiene ninguna cita.", "recurrence ergibt keinen Termin."))
            : (occurrences, null);
    }

    /// <summary>The instant of a wall-clock time on a local date, resolved by Ical.Net as the expansion is.</summary>
    public static DateTimeOffset LocalInstant(DateOnly date, TimeOnly time, TimeZoneInfo zone)
    {
        ArgumentNullException.ThrowIfNull(zone);
        var local = new CalDateTime(date.ToDateTime(time, DateTimeKind.Unspecified), ZoneIdOf(zone));
        return new DateTimeOffset(DateTime.SpecifyKind(local.AsUtc, DateTimeKind.Utc));
    }

    private static Occurrence ToOccurrence(CalDateTime start, TimeSpan duration, TimeZoneInfo zone)
    {
        var utc = new DateTimeOffset(DateTime.SpecifyKind(start.AsUtc, DateTimeKind.Utc));
        return new Occurrence(AppointmentRules.LocalDate(utc, zone), utc, utc + duration);
    }

    private static string ZoneIdOf(TimeZoneInfo zone) =>
        TimeZoneInfo.TryConvertWindowsIdToIanaId(zone.Id, out var iana) ? iana : zone.Id;

    // The doctor's appointments that hold their slot in the window; the series' own rows being moved are left out.
    private const string BusySql = """
        select id, starts_at, ends_at
        from appointments
        where clinic_id = @ClinicId and doctor_id = @DoctorId and status <> all(@Released)
          and starts_at > @EarliestStart and starts_at < @To and ends_at > @From
          and id <> all(@Excluding)
        """;

    private sealed record BusyRow(Guid Id, DateTimeOffset StartsAt, DateTimeOffset EndsAt);

    /// <summary>
    /// The booking checks of <see cref="AppointmentRules"/> for every occurrence, against a schedule
    /// loaded (and the doctor locked) for the whole window: inside hours and clear of time off unless
    /// <paramref name="allowOutside"/>, clear of the doctor's other appointments. Answers the
    /// conflicts and, for the rest, whether each lies outside the schedule. The exclusion constraint
    /// stays the guarantee.
    /// </summary>
    public static async Task<(List<Conflict> Conflicts, Dictionary<Occurrence, bool> Outside)> CheckAsync(Tenant tenant,
        AppointmentRules.DoctorSchedule schedule, Guid doctorId, IReadOnlyList<Occurrence> occurrences, IReadOnlyCollection<Guid> excluding,
        bool allowOutside, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        ArgumentNullException.ThrowIfNull(schedule);
        ArgumentNullException.ThrowIfNull(occurrences);
        var from = occurrences.Min(o => o.Start);
        var to = occurrences.Max(o => o.End);
        var busy = (await tenant.QueryAsync<BusyRow>(BusySql, new
        {
            tenant.ClinicId,
            DoctorId = doctorId,
            Released = AppointmentRules.Released,
            EarliestStart = AppointmentRules.EarliestOverlappingStart(from),
            From = from,
            To = to,
            Excluding = excluding.ToArray(),
        }, ct)).Select(b => new AppointmentRules.Span(b.StartsAt, b.EndsAt)).ToList();

        var conflicts = new List<Conflict>();
        var outside = new Dictionary<Occurrence, bool>();
        foreach (var occurrence in occurrences)
        {
            var within = AppointmentRules.IsWithinSchedule(schedule, occurrence.Start, occurrence.End);
            if (busy.Any(b => b.Overlaps(occurrence.Start, occurrence.End)))
            {
                conflicts.Add(new Conflict(occurrence, ReasonOverlap));
            }
            else if (!within && !allowOutside)
            {
                conflicts.Add(new Conflict(occurrence, ReasonOutsideSchedule));
            }
            else
            {
                outside[occurrence] = !within;
            }
        }

        return (conflicts, outside);
    }

    /// <summary>
    /// The 409 that books nothing: <c>details</c> maps each conflicting local date (YYYY-MM-DD) to why.
    /// The code is APPOINTMENT_CONFLICT when any date overlaps another appointment, else CONFLICT.
    /// </summary>
    public static ApiProblem Refusal(IReadOnlyList<Conflict> conflicts)
    {
        ArgumentNullException.ThrowIfNull(conflicts);
        var details = conflicts.ToDictionary(
            c => c.Occurrence.Date.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture),
            c => new[] { c.Reason == ReasonOverlap ? AppointmentRules.Overlap().Value.Error : AppointmentRules.OutsideSchedule().Value.Error });
        var overlap = conflicts.Any(c => c.Reason == ReasonOverlap);
        return ApiProblem.Of(StatusCodes.Status409Conflict, overlap ? ErrorCodes.AppointmentConflict : ErrorCodes.Conflict, new Text(
            $"{conflicts.Count} of the dates cannot be booked; nothing was booked.",
            $"{conflicts.Count} de las fechas no se pueden reservar; no se reservó nada.",
            $"{conflicts.Count} der Termine können nicht gebucht werden; nichts wurde gebucht."), details);
    }
}
