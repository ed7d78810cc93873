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

    /// <summary>
    /// Checks and inserts in the caller's transaction. An overlap leaves that transaction aborted (the
    /// exclusion constraint raised): a caller that goes on afterwards books inside a savepoint.
    /// </summary>
    public static async Task<Result> BookAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Booking booking,
        CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(booking);

        // The patient before the doctor, the order an erasure takes them in (patient, then its
        // appointments, which touch their doctors' calendars), so the two never wait on each other;
        // both locks and the schedule in one round trip.
        bool? blocked;
        AppointmentRules.DoctorSchedule? schedule;
        using (var results = await connection.QueryMultipleAsync(new CommandDefinition(PatientSql + ";\n" + AppointmentRules.BookingScheduleSql,
            new { booking.ClinicId, booking.PatientId, booking.DoctorId, From = booking.StartsAt, To = booking.EndsAt }, transaction,
            cancellationToken: ct)))
        {
            blocked = await results.ReadSingleOrDefaultAsync<bool?>();
            schedule = await AppointmentRules.ReadScheduleAsync(results, forBooking: true);
        }

        if (schedule is null || blocked is null)
        {
            return new Result(Outcome.NotFound, Guid.Empty, false);
        }

        if (blocked.Value)
        {
            return new Result(Outcome.PatientBlocked, Guid.Empty, false);
        }

        if (!schedule.Active)
        {
            return new Result(Outcome.DoctorInactive, Guid.Empty, false);
        }

        var within = AppointmentRules.IsWithinSchedule(schedule, booking.StartsAt, booking.EndsAt);
        if (!within && !booking.AllowOutsideSchedule)
        {
            return new Result(Outcome.OutsideSchedule, Guid.Empty, true);
        }

        var id = Guid.CreateVersion7();
        try
        {
            await connection.ExecuteAsync(new CommandDefinition(InsertSql, new
            {
                Id = id,
                booking.ClinicId,
                booking.DoctorId,
                booking.PatientId,
                booking.StartsAt,
                booking.EndsAt,
                booking.Reason,
                booking.Notes,
                OutsideSchedule = !within,
                booking.CreatedBy,
            }, transaction, cancellationToken: ct));
        }
        catch (PostgresException e) when (AppointmentRules.IsOverlap(e))
        {
            return new Result(Outcome.Overlap, Guid.Empty, !within);
        }

        return new Result(Outcome.Booked, id, !within);
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
