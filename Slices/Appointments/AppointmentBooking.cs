using System.Runtime.CompilerServices;
using ClinicFlow.Infrastructure;
using Dapper;
using Npgsql;

namespace ClinicFlow.Slices.Appointments;

/// <summary>
/// The one way an appointment is booked: the patient share-locked and not blocked, the doctor's row
/// locked and the doctor active, the time inside the doctor's hours and clear of time off (unless an
/// admin allows otherwise), then the insert, where the exclusion constraint refuses a double booking,
/// also between concurrent bookings. <c>POST /api/appointments</c> and a patient accepting a
/// waitlist offer over WhatsApp both book through here.
/// </summary>
public static class AppointmentBooking
{
    public enum Outcome
    {
        Booked,
        NotFound,
        PatientBlocked,
        DoctorInactive,
        OutsideSchedule,
        Overlap,
    }

    /// <summary>What to book; instants in UTC (Npgsql writes timestamptz only from UTC offsets).</summary>
    public sealed record Booking(Guid ClinicId, Guid DoctorId, Guid PatientId, DateTimeOffset StartsAt, DateTimeOffset EndsAt,
        string? Reason, string? Notes, bool AllowOutsideSchedule, Guid? CreatedBy);

    /// <summary>The outcome; <see cref="Id"/> is the new appointment's when booked.</summary>
    public sealed record Result(Outcome Outcome, Guid Id, bool OutsideSchedule);

    // Share-locked so a concurrent block or erasure waits for this booking instead of racing it.
    private const string PatientSql = """
        select blocked
        from patients
        where clinic_id = @ClinicId and id = @PatientId and erased_at is null
        for share
        """;

    private const string InsertSql = """
        insert into appointments (id, clinic_id, doctor_id, patient_id, starts_at, ends_at, reason, notes, outside_schedule,
                                  created_by)
        values (@Id, @ClinicId, @DoctorId, @PatientId, @StartsAt, @EndsAt, @Reason, @Notes, @OutsideSchedule, @CreatedBy)
        """;

    // The patient before the doctor, the order an erasure takes them in (patient, then its
    // appointments, which touch their doctors' calendars), so the two never wait on each other;
    // both locks and the schedule in one round trip.
    private const string CheckSql = PatientSql + ";\n" + AppointmentRules.BookingScheduleSql;

    /// <summary>
    /// Checks and inserts in the caller's transaction. An overlap leaves that transaction aborted (the
    /// exclusion constraint raised): a caller that goes on afterwards books inside a savepoint.
    /// </summary>
    public static async Task<Result> BookAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Booking booking,
        CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(booking);

        (Result? Refusal, bool Outside) check;
        await using (var results = await connection.QueryGridAsync(new CommandDefinition(CheckSql, CheckArgs(booking), transaction,
            cancellationToken: ct)))
        {
            check = await CheckAsync(results, booking);
        }

        if (check.Refusal is { } refusal)
        {
            return refusal;
        }

        var id = Guid.CreateVersion7();
        try
        {
            await connection.ExecuteAsync(new CommandDefinition(InsertSql, InsertArgs(booking, id, check.Outside), transaction,
                cancellationToken: ct));
        }
        catch (PostgresException e) when (AppointmentRules.IsOverlap(e))
        {
            return new Result(Outcome.Overlap, Guid.Empty, check.Outside);
        }

        return new Result(Outcome.Booked, id, check.Outside);
    }

    /// <summary>
    /// As above, in a request's transaction, in two round trips: the checks travel with the gate's
    /// prelude (<c>BEGIN</c>, the tenant settings, the fail-closed check), and the insert with
    /// <paramref name="readSql"/> (parameters <c>@ClinicId</c> and <c>@Id</c>, the new appointment's
    /// id), whose results <paramref name="read"/> takes; an overlap skips it (default).
    /// </summary>
    public static async Task<(Result Result, T? Read)> BookAsync<T>(DbScope scope, Booking booking, string readSql,
        Func<Grid, Task<T>> read, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(scope);
        ArgumentNullException.ThrowIfNull(booking);
        ArgumentNullException.ThrowIfNull(read);

        scope.UseTransaction();
        (Result? Refusal, bool Outside) check;
        await using (var results = await scope.QueryMultipleAsync(CheckSql, CheckArgs(booking), ct))
        {
            check = await CheckAsync(results, booking);
        }

        if (check.Refusal is { } refusal)
        {
            return (refusal, default);
        }

        var id = Guid.CreateVersion7();
        Grid inserted;
        try
        {
            inserted = await scope.QueryMultipleAsync(InsertThen.GetValue(readSql, sql => InsertSql + ";\n" + sql),
                InsertArgs(booking, id, check.Outside), ct);
        }
        catch (PostgresException e) when (AppointmentRules.IsOverlap(e))
        {
            return (new Result(Outcome.Overlap, Guid.Empty, check.Outside), default);
        }

        await using (inserted)
        {
            return (new Result(Outcome.Booked, id, check.Outside), await read(inserted));
        }
    }

    // The insert's batch text per follow-up statement (a constant of the caller), built once.
    private static readonly ConditionalWeakTable<string, string> InsertThen = new();

    private static object CheckArgs(Booking booking) =>
        new { booking.ClinicId, booking.PatientId, booking.DoctorId, From = booking.StartsAt, To = booking.EndsAt };

    private static object InsertArgs(Booking booking, Guid id, bool outside) => new
    {
        Id = id,
        booking.ClinicId,
        booking.DoctorId,
        booking.PatientId,
        booking.StartsAt,
        booking.EndsAt,
        booking.Reason,
        booking.Notes,
        OutsideSchedule = outside,
        booking.CreatedBy,
    };

    /// <summary>What the check batch decided: a refusal, or go on, with whether the time lies outside the doctor's hours.</summary>
    private static async Task<(Result? Refusal, bool Outside)> CheckAsync(Grid results, Booking booking)
    {
        var blocked = await results.ReadSingleOrDefaultAsync<bool?>();
        var schedule = await AppointmentRules.ReadScheduleAsync(results, forBooking: true);
        if (schedule is null || blocked is null)
        {
            return (new Result(Outcome.NotFound, Guid.Empty, false), false);
        }

        if (blocked.Value)
        {
            return (new Result(Outcome.PatientBlocked, Guid.Empty, false), false);
        }

        if (!schedule.Active)
        {
            return (new Result(Outcome.DoctorInactive, Guid.Empty, false), false);
        }

        var outside = !AppointmentRules.IsWithinSchedule(schedule, booking.StartsAt, booking.EndsAt);
        return outside && !booking.AllowOutsideSchedule
            ? (new Result(Outcome.OutsideSchedule, Guid.Empty, true), true)
            : (null, outside);
    }

    /// <summary>The answer of a booking that was refused.</summary>
    public static ApiProblem Refusal(Outcome outcome) => outcome switch
    {
        Outcome.PatientBlocked => AppointmentRules.PatientBlocked(),
        Outcome.DoctorInactive => AppointmentRules.DoctorInactive(),
        Outcome.OutsideSchedule => AppointmentRules.OutsideSchedule(),
        Outcome.Overlap => AppointmentRules.Overlap(),
        _ => ApiProblem.NotFound(),
    };
}
