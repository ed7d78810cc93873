using ClinicFlow.Infrastructure;
using Dapper;
using Npgsql;

namespace ClinicFlow.Slices.Appointments;

/// <summary>
/// What every appointment slice agrees on: the status machine, the overlap answer, and a doctor's
/// working time as UTC intervals computed from weekly hours in the clinic's zone, date by date, so
/// DST changes move the instants and never the wall-clock hours.
/// </summary>
public static class AppointmentRules
{
    public const string Scheduled = "scheduled";
    public const string Confirmed = "confirmed";
    public const string CheckedIn = "checked_in";
    public const string Completed = "completed";
    public const string Cancelled = "cancelled";
    public const string NoShow = "no_show";

    public static readonly string[] Statuses = [Scheduled, Confirmed, CheckedIn, Completed, Cancelled, NoShow];

    /// <summary>Statuses that no longer hold the slot (the exclusion constraint skips them).</summary>
    public static readonly string[] Released = [Cancelled, NoShow];

    /// <summary>Longest appointment (also a check constraint) and widest availability window.</summary>
    public const int MaxDurationMinutes = 720;

    /// <summary>
    /// The earliest start of an appointment that can overlap a window opening at <paramref name="from"/>.
    /// Range reads say <c>starts_at &gt; @EarliestStart and starts_at &lt; @To and ends_at &gt; @From</c>
    /// rather than <c>tstzrange(…) &amp;&amp; tstzrange(…)</c>: under row-level security only leakproof
    /// operators become index conditions, plain comparisons are, the range overlap is not, and the
    /// overlap would walk the doctor's whole history.
    /// </summary>
    public static DateTimeOffset EarliestOverlappingStart(DateTimeOffset from) => from.AddMinutes(-MaxDurationMinutes);

    public const int MaxAvailabilityDays = 31;

    /// <summary>
    /// SPEC's machine: scheduled → confirmed → checked_in → completed; scheduled/confirmed →
    /// cancelled or no_show. A patient who never confirmed may still check in at the door
    /// (scheduled → checked_in), which the QR check-in relies on.
    /// </summary>
    public static bool CanMove(string from, string to) => (from, to) switch
    {
        (Scheduled, Confirmed) => true,
        (Scheduled or Confirmed, CheckedIn) => true,
        (CheckedIn, Completed) => true,
        (Scheduled or Confirmed, Cancelled or NoShow) => true,
        _ => false,
    };

    /// <summary>Time, doctor and patient can change only while the appointment is still ahead.</summary>
    public static bool CanReschedule(string status) => status is Scheduled or Confirmed;

    public static ApiProblem InvalidState(string from, string to) => ApiProblem.Conflict(ErrorCodes.InvalidState, new Text(
        $"An appointment that is {from} cannot become {to}.",
        $"Una cita en estado {from} no puede pasar a {to}.",
        $"Ein Termin im Status {from} kann nicht zu {to} wechseln."));

    /// <summary>Maps the exclusion constraint's answer (also under concurrent requests) to 409 APPOINTMENT_CONFLICT.</summary>
    public static bool IsOverlap(PostgresException e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return e.SqlState == PostgresErrorCodes.ExclusionViolation && e.ConstraintName == "ex_appointments_no_overlap";
    }

    public static ApiProblem Overlap() => ApiProblem.Conflict(ErrorCodes.AppointmentConflict, new Text(
        "The doctor already has an appointment at that time.",
        "El profesional ya tiene una cita en ese horario.",
        "Der Arzt hat zu dieser Zeit bereits einen Termin."));

    public static ApiProblem PatientBlocked() => ApiProblem.Conflict(ErrorCodes.PatientBlocked, new Text(
        "This patient is blocked and cannot be booked.",
        "Este paciente está bloqueado y no puede recibir citas.",
        "Dieser Patient ist gesperrt und kann keinen Termin erhalten."));

    public static ApiProblem OutsideSchedule() => ApiProblem.Conflict(ErrorCodes.Conflict, new Text(
        "The time is outside the doctor's hours or in their time off.",
        "El horario está fuera de la agenda del profesional o en una ausencia.",
        "Die Zeit liegt außerhalb der Sprechzeiten oder in einer Abwesenheit des Arztes."));

    public static ApiProblem OutsideScheduleNeedsAdmin() => ApiProblem.Forbidden(ErrorCodes.Forbidden, new(
        "Only an admin may book outside the doctor's schedule.",
        "Solo un administrador puede reservar fuera de la agenda del profesional.",
        "Nur ein Administrator darf außerhalb der Sprechzeiten buchen."));

    public static ApiProblem StartsInThePast() => ApiProblem.Validation("startsAt", new(
        "startsAt is in the past.", "startsAt está en el pasado.", "startsAt liegt in der Vergangenheit."));

    public static readonly Text EndMessage = new(
        $"endsAt must be after startsAt and at most {MaxDurationMinutes} minutes later.",
        $"endsAt debe ser posterior a startsAt y como máximo {MaxDurationMinutes} minutos después.",
        $"endsAt muss nach startsAt und höchstens {MaxDurationMinutes} Minuten später liegen.");

    public static ApiProblem DoctorInactive() => ApiProblem.Conflict(ErrorCodes.Conflict, new Text(
        "The doctor is inactive and cannot be booked.",
        "El profesional está inactivo y no puede recibir citas.",
        "Der Arzt ist inaktiv und kann keine Termine erhalten."));

    /// <summary>A weekly range in the clinic's zone, as minutes after local midnight.</summary>
    public sealed record WeeklyRange(int Weekday, int StartMinute, int EndMinute);

    /// <summary>A half-open span of time [Start, End).</summary>
    public readonly record struct Span(DateTimeOffset Start, DateTimeOffset End)
    {
        public bool Overlaps(DateTimeOffset start, DateTimeOffset end) => Start < end && start < End;
    }

    /// <summary>A doctor's schedule as the database holds it, for one window of time.</summary>
    public sealed record DoctorSchedule(bool Active, int SlotMinutes, TimeZoneInfo Zone,
        IReadOnlyList<WeeklyRange> Weekly, IReadOnlyList<Span> TimeOff);

    private sealed record DoctorRow(bool Active, int SlotMinutes, string Timezone);

    private sealed record SpanRow(DateTimeOffset StartsAt, DateTimeOffset EndsAt);

    // One round trip: the doctor and the clinic's zone, the weekly hours, the time off touching the window.
    private const string ScheduleSql = """
        select d.active, d.slot_minutes, c.timezone
        from doctors d
        join clinics c on c.id = d.clinic_id
        where d.clinic_id = @ClinicId and d.id = @DoctorId;

        select weekday::int as weekday, (extract(hour from starts_at) * 60 + extract(minute from starts_at))::int as start_minute,
               (extract(hour from ends_at) * 60 + extract(minute from ends_at))::int as end_minute
        from doctor_weekly_hours
        where clinic_id = @ClinicId and doctor_id = @DoctorId
        order by weekday, starts_at;

        select starts_at, ends_at
        from doctor_time_off
        where clinic_id = @ClinicId and doctor_id = @DoctorId and ends_at > @From and starts_at < @To
        order by starts_at;
        """;

    // Bookings of one doctor take turns on the doctor's row. The exclusion constraint alone stays the
    // guarantee, but two concurrent inserts of overlapping rows can each find the other's uncommitted
    // row and wait for it: PostgreSQL then breaks the deadlock after a second by failing one of them.
    // Taking turns turns that into a plain conflict with the committed row, at once, and a booking is
    // never checked against a week that a concurrent schedule replacement is rewriting.
    private const string LockDoctorSql = """
        select 1 from doctors where clinic_id = @ClinicId and id = @DoctorId for no key update;
        """;

    /// <summary>The doctor's row locked, then the schedule (<c>@ClinicId</c>, <c>@DoctorId</c>, <c>@From</c>, <c>@To</c>); read it with <see cref="ReadScheduleAsync"/>.</summary>
    internal const string BookingScheduleSql = LockDoctorSql + ScheduleSql;

    /// <summary>
    /// The doctor's schedule around [from, to), or null when the clinic has no such doctor. With
    /// <paramref name="forBooking"/> the doctor's row is locked first, so bookings of one doctor take turns.
    /// </summary>
    public static async Task<DoctorSchedule?> LoadScheduleAsync(DbScope scope, Guid clinicId, Guid doctorId,
        DateTimeOffset from, DateTimeOffset to, CancellationToken ct, bool forBooking = false)
    {
        ArgumentNullException.ThrowIfNull(scope);
        await using var results = await scope.QueryMultipleAsync(forBooking ? BookingScheduleSql : ScheduleSql,
            new { ClinicId = clinicId, DoctorId = doctorId, From = from, To = to }, ct);
        return await ReadScheduleAsync(results, forBooking);
    }

    /// <summary>As above, on a connection outside a request (the WhatsApp worker books waitlist offers).</summary>
    public static async Task<DoctorSchedule?> LoadScheduleAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid clinicId,
        Guid doctorId, DateTimeOffset from, DateTimeOffset to, CancellationToken ct, bool forBooking = false)
    {
        ArgumentNullException.ThrowIfNull(connection);
        await using var results = await connection.QueryGridAsync(new CommandDefinition(forBooking ? BookingScheduleSql : ScheduleSql,
            new { ClinicId = clinicId, DoctorId = doctorId, From = from, To = to }, transaction, cancellationToken: ct));
        return await ReadScheduleAsync(results, forBooking);
    }

    internal static async Task<DoctorSchedule?> ReadScheduleAsync(Grid results, bool forBooking)
    {
        if (forBooking)
        {
            await results.ReadAsync<int>();
        }

        var doctor = await results.ReadSingleOrDefaultAsync<DoctorRow>();
        var weekly = (await results.ReadAsync<WeeklyRange>()).ToList();
        var timeOff = (await results.ReadAsync<SpanRow>()).Select(r => new Span(r.StartsAt, r.EndsAt)).ToList();
        return doctor is null
            ? null
            : new DoctorSchedule(doctor.Active, doctor.SlotMinutes, TimeZoneInfo.FindSystemTimeZoneById(doctor.Timezone), weekly, timeOff);
    }

    // Availability's bookings: one bounded range scan of ix_appointments_doctor (see EarliestOverlappingStart).
    private const string BookedSql = """

        select starts_at, ends_at
        from appointments
        where clinic_id = @ClinicId and doctor_id = @DoctorId
          and starts_at > @EarliestStart and starts_at < @To and ends_at > @From
          and status not in ('cancelled', 'no_show')
        order by starts_at;
        """;

    /// <summary>
    /// The doctor's schedule around [from, to) and the bookings that may touch it, in one round trip
    /// (availability); the schedule is null when the clinic has no such doctor.
    /// </summary>
    public static async Task<(DoctorSchedule? Schedule, List<Span> Booked)> LoadScheduleAndBookingsAsync(DbScope scope, Guid clinicId,
        Guid doctorId, DateTimeOffset from, DateTimeOffset to, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(scope);
        await using var results = await scope.QueryMultipleAsync(ScheduleSql + BookedSql,
            new { ClinicId = clinicId, DoctorId = doctorId, From = from, To = to, EarliestStart = EarliestOverlappingStart(from) }, ct);
        var schedule = await ReadScheduleAsync(results, forBooking: false);
        var booked = (await results.ReadAsync<SpanRow>()).Select(r => new Span(r.StartsAt, r.EndsAt)).ToList();
        return (schedule, booked);
    }

    /// <summary>
    /// The doctor's working time overlapping [from, to) as UTC spans, adjacent ranges merged. Each
    /// local date is converted on its own: a wall-clock time skipped by a spring-forward change maps to
    /// the instant of the change, and one repeated by a fall-back change starts at its first and ends
    /// at its last occurrence.
    /// </summary>
    public static List<Span> WorkingSpans(IReadOnlyList<WeeklyRange> weekly, TimeZoneInfo zone, DateTimeOffset from, DateTimeOffset to)
    {
        ArgumentNullException.ThrowIfNull(weekly);
        ArgumentNullException.ThrowIfNull(zone);
        var spans = new List<Span>();
        if (weekly.Count == 0 || from >= to)
        {
            return spans;
        }

        var firstDay = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(from, zone).DateTime).AddDays(-1);
        var lastDay = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(to, zone).DateTime).AddDays(1);
        for (var day = firstDay; day <= lastDay; day = day.AddDays(1))
        {
            var weekday = day.DayOfWeek == DayOfWeek.Sunday ? 7 : (int)day.DayOfWeek;
            foreach (var range in weekly)
            {
                if (range.Weekday != weekday)
                {
                    continue;
                }

                var start = ToInstant(day, range.StartMinute, zone, first: true);
                var end = ToInstant(day, range.EndMinute, zone, first: false);
                if (start < end && start < to && from < end)
                {
                    spans.Add(new Span(start, end));
                }
            }
        }

        spans.Sort((a, b) => a.Start.CompareTo(b.Start));
        var merged = new List<Span>(spans.Count);
        foreach (var span in spans)
        {
            if (merged.Count > 0 && merged[^1].End >= span.Start)
            {
                merged[^1] = merged[^1] with { End = span.End > merged[^1].End ? span.End : merged[^1].End };
            }
            else
            {
                merged.Add(span);
            }
        }

        return merged;
    }

    /// <summary>Whether [start, end) lies inside working time and clear of time off.</summary>
    public static bool IsWithinSchedule(DoctorSchedule schedule, DateTimeOffset start, DateTimeOffset end)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        var working = WorkingSpans(schedule.Weekly, schedule.Zone, start, end);
        return working.Any(w => w.Start <= start && end <= w.End) && !schedule.TimeOff.Any(t => t.Overlaps(start, end));
    }

    /// <summary>
    /// Free slots of <paramref name="duration"/> that start in [from, to), not before
    /// <paramref name="now"/>, stepping by the doctor's slot length from the start of each working
    /// span, clear of time off and of <paramref name="booked"/> (sorted by start).
    /// </summary>
    public static List<Span> FreeSlots(DoctorSchedule schedule, IReadOnlyList<Span> booked, TimeSpan duration,
        DateTimeOffset from, DateTimeOffset to, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        ArgumentNullException.ThrowIfNull(booked);
        var busy = booked.Concat(schedule.TimeOff).OrderBy(b => b.Start).ToList();
        var step = TimeSpan.FromMinutes(schedule.SlotMinutes);
        var slots = new List<Span>();
        var first = 0;
        foreach (var work in WorkingSpans(schedule.Weekly, schedule.Zone, from, to.Add(duration)))
        {
            for (var start = work.Start; start + duration <= work.End && start < to; start += step)
            {
                var end = start + duration;
                if (start < from || start < now)
                {
                    continue;
                }

                // Busy spans ending before this slot can never touch a later one.
                while (first < busy.Count && busy[first].End <= start)
                {
                    first++;
                }

                var free = true;
                for (var i = first; i < busy.Count && busy[i].Start < end; i++)
                {
                    if (busy[i].Overlaps(start, end))
                    {
                        free = false;
                        break;
                    }
                }

                if (free)
                {
                    slots.Add(new Span(start, end));
                }
            }
        }

        return slots;
    }

    /// <summary>
    /// The timing rules of attendance, shared by the attendance endpoint and PATCH: a no-show only once
    /// the appointment began, a check-in only on the appointment's day in the clinic's zone.
    /// </summary>
    public static ApiProblem? AttendanceTiming(string status, DateTimeOffset startsAt, TimeZoneInfo zone, DateTimeOffset now)
    {
        if (status == NoShow && now < startsAt)
        {
            return ApiProblem.Conflict(ErrorCodes.InvalidState, new(
                "A patient can be marked as a no-show only once the appointment has begun.",
                "Solo se puede marcar la inasistencia una vez que la cita comenzó.",
                "Ein Nichterscheinen kann erst nach Beginn des Termins erfasst werden."));
        }

        if (status == CheckedIn && LocalDate(now, zone) != LocalDate(startsAt, zone))
        {
            return ApiProblem.Conflict(ErrorCodes.InvalidState, new(
                "A patient can check in only on the day of the appointment.",
                "El paciente solo puede registrar su llegada el día de la cita.",
                "Ein Patient kann nur am Tag des Termins einchecken."));
        }

        return null;
    }

    /// <summary>The calendar date an instant falls on in the clinic's zone.</summary>
    public static DateOnly LocalDate(DateTimeOffset instant, TimeZoneInfo zone) =>
        DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(instant, zone).DateTime);

    /// <summary>The first instant of a local date: midnight, or the end of a DST gap that swallowed it.</summary>
    public static DateTimeOffset StartOfLocalDay(DateOnly day, TimeZoneInfo zone)
    {
        ArgumentNullException.ThrowIfNull(zone);
        return ToInstant(day, 0, zone, first: true);
    }

    private static DateTimeOffset ToInstant(DateOnly day, int minuteOfDay, TimeZoneInfo zone, bool first)
    {
        var local = day.ToDateTime(TimeOnly.MinValue).AddMinutes(minuteOfDay);
        // Skipped by a spring-forward change: the first wall-clock minute after the gap is the change itself.
        for (var guard = 0; zone.IsInvalidTime(local) && guard < 24 * 60; guard++)
        {
            local = local.AddMinutes(1);
        }

        if (zone.IsAmbiguousTime(local))
        {
            var offsets = zone.GetAmbiguousTimeOffsets(local);
            // The larger offset is the earlier instant.
            var offset = first ? offsets.Max() : offsets.Min();
            return new DateTimeOffset(local, offset).ToUniversalTime();
        }

        return new DateTimeOffset(local, zone.GetUtcOffset(local)).ToUniversalTime();
    }
}
