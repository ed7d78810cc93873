using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Waitlist;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace ClinicFlow.Slices.Appointments;

/// <summary>
/// PATCH /api/appointments/{id}: reschedules, changes the doctor, the reason or notes, or moves the
/// status along the appointment's machine; a new time is checked as a booking is.
/// </summary>
public sealed class UpdateAppointment : ICarterModule
{
    public sealed record Request(DateTimeOffset? StartsAt, DateTimeOffset? EndsAt, int? DurationMinutes, Guid? DoctorId, string? Reason,
        string? Notes, string? Status, bool? AllowOutsideSchedule);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.EndsAt).Null().When(r => r.DurationMinutes is not null)
                .WithMessage(_ => new Text(
                    "Give endsAt or durationMinutes, not both.",
                    "Indique endsAt o durationMinutes, no ambos.",
                    "Geben Sie endsAt oder durationMinutes an, nicht beides.").Current);
            RuleFor(r => r.DurationMinutes).InclusiveBetween(5, AppointmentRules.MaxDurationMinutes);
            RuleFor(r => r.DoctorId).NotEqual(Guid.Empty);
            RuleFor(r => r.Reason).MaximumLength(500);
            RuleFor(r => r.Notes).MaximumLength(4000);
            RuleFor(r => r.Status).Must(s => AppointmentRules.Statuses.Contains(s)).When(r => r.Status is not null)
                .WithMessage(_ => new Text(
                    $"status must be one of {string.Join(", ", AppointmentRules.Statuses)}.",
                    $"status debe ser uno de {string.Join(", ", AppointmentRules.Statuses)}.",
                    $"status muss einer von {string.Join(", ", AppointmentRules.Statuses)} sein.").Current);
        }
    }

    // Locked for the rest of the request: two concurrent changes of one appointment apply one after the other.
    private const string TargetSql = """
        select a.doctor_id, a.patient_id, a.starts_at, a.ends_at, a.status, a.reason, a.notes, a.outside_schedule, c.timezone
        from appointments a
        join clinics c on c.id = a.clinic_id
        where a.clinic_id = @ClinicId and a.id = @Id
        for update of a
        """;

    private const string PatientSql = """
        select blocked
        from patients
        where clinic_id = @ClinicId and id = @PatientId
        for share
        """;

    private const string UpdateSql = """
        update appointments
           set doctor_id = @DoctorId, starts_at = @StartsAt, ends_at = @EndsAt, status = @Status, reason = @Reason,
               notes = @Notes, outside_schedule = @OutsideSchedule, sequence = sequence + 1, updated_at = now(),
               status_changed_at = case when status <> @Status then now() else status_changed_at end
         where clinic_id = @ClinicId and id = @Id;
        select id, doctor_id, patient_id, starts_at, ends_at, status, reason, notes, outside_schedule, created_at, updated_at,
               doctor_name, patient_name
        from appointment_details
        where clinic_id = @ClinicId and id = @Id;
        """;

    private const string ReadSql = """
        select id, doctor_id, patient_id, starts_at, ends_at, status, reason, notes, outside_schedule, created_at, updated_at,
               doctor_name, patient_name
        from appointment_details
        where clinic_id = @ClinicId and id = @Id
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/appointments")
            .MapPatch("/{id:guid}", Handle)
            .WithName(nameof(UpdateAppointment))
            .WithSummary("Reschedule, change doctor, reason, notes or status")
            .ProducesErrors(StatusCodes.Status409Conflict);

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(
        Guid id, Request request, Tenant tenant, Validator validator, TimeProvider clock, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        var allowOutside = request.AllowOutsideSchedule == true;
        if (allowOutside && !await tenant.IsAdminAsync(ct))
        {
            return AppointmentRules.OutsideScheduleNeedsAdmin();
        }

        var current = await tenant.QuerySingleOrDefaultAsync<Target>(TargetSql, new { tenant.ClinicId, Id = id }, ct);
        if (current is null)
        {
            return ApiProblem.NotFound();
        }

        // Npgsql writes timestamptz only from UTC offsets. Moving only the start keeps the duration.
        var start = request.StartsAt?.ToUniversalTime() ?? current.StartsAt;
        var end = request.DurationMinutes is { } minutes ? start.AddMinutes(minutes)
            : request.EndsAt is { } endsAt ? endsAt.ToUniversalTime()
            : start + (current.EndsAt - current.StartsAt);
        if (end <= start || end - start > TimeSpan.FromMinutes(AppointmentRules.MaxDurationMinutes))
        {
            return ApiProblem.Validation("endsAt", AppointmentRules.EndMessage);
        }

        var doctorId = request.DoctorId ?? current.DoctorId;
        var status = request.Status ?? current.Status;
        var reason = request.Reason is null ? current.Reason : request.Reason.TrimToNull();
        var notes = request.Notes is null ? current.Notes : request.Notes.TrimToNull();
        var moved = new List<string>();
        Compare(moved, "startsAt", current.StartsAt, start);
        Compare(moved, "endsAt", current.EndsAt, end);
        Compare(moved, "doctorId", current.DoctorId, doctorId);
        var edited = new List<string>();
        Compare(edited, "reason", current.Reason, reason);
        Compare(edited, "notes", current.Notes, notes);
        var statusChanged = status != current.Status;
        var now = clock.GetUtcNow();

        if (statusChanged)
        {
            if (!AppointmentRules.CanMove(current.Status, status))
            {
                return AppointmentRules.InvalidState(current.Status, status);
            }

            var zone = TimeZoneInfo.FindSystemTimeZoneById(current.Timezone);
            if (AppointmentRules.AttendanceTiming(status, current.StartsAt, zone, now) is { } refusal)
            {
                return refusal;
            }
        }

        var outsideSchedule = current.OutsideSchedule;
        if (moved.Count > 0)
        {
            // Both ends must hold the slot: a cancelled or attended appointment has no time left to move.
            if (!AppointmentRules.CanReschedule(current.Status) || !AppointmentRules.CanReschedule(status))
            {
                var held = AppointmentRules.CanReschedule(current.Status) ? status : current.Status;
                return ApiProblem.Conflict(ErrorCodes.InvalidState, new(
                    $"An appointment that is {held} cannot be rescheduled.",
                    $"Una cita en estado {held} no se puede reprogramar.",
                    $"Ein Termin im Status {held} kann nicht verschoben werden."));
            }

            var (refusal, outside) = await CheckNewTimeAsync(tenant, current.PatientId, doctorId, start, end, allowOutside, now, ct);
            if (refusal is not null)
            {
                return refusal;
            }

            outsideSchedule = outside;
        }

        if (moved.Count == 0 && edited.Count == 0 && !statusChanged)
        {
            var unchanged = await tenant.QuerySingleAsync<Row>(ReadSql, new { tenant.ClinicId, Id = id }, ct);
            return TypedResults.Ok(unchanged.ToResponse());
        }

        Row row;
        try
        {
            row = await tenant.QuerySingleAsync<Row>(UpdateSql, new
            {
                tenant.ClinicId,
                Id = id,
                DoctorId = doctorId,
                StartsAt = start,
                EndsAt = end,
                Status = status,
                Reason = reason,
                Notes = notes,
                OutsideSchedule = outsideSchedule,
            }, ct);
        }
        catch (PostgresException e) when (AppointmentRules.IsOverlap(e))
        {
            return AppointmentRules.Overlap();
        }

        await AppointmentReminders.SyncAsync(tenant, tenant.ClinicId, id, moved.Count > 0, status, now, ct);

        // One entry per kind of change; ids, field names and statuses only (reason and notes can describe the patient's health).
        if (moved.Count > 0)
        {
            await tenant.AuditAsync("appointment.reschedule", "appointment", id, new
            {
                fields = moved,
                fromDoctorId = current.DoctorId,
                toDoctorId = doctorId,
                outsideSchedule,
            }, ct);
        }

        if (statusChanged)
        {
            await tenant.AuditAsync(status == AppointmentRules.Cancelled ? "appointment.cancel" : "appointment.status", "appointment", id,
                new { from = current.Status, to = status }, ct);
        }

        if (edited.Count > 0)
        {
            await tenant.AuditAsync("appointment.update", "appointment", id, new { fields = edited }, ct);
        }

        // A cancellation or no-show frees the slot: the waiting list is offered it in this transaction.
        if (statusChanged && AppointmentRules.Released.Contains(status))
        {
            await WaitlistMachine.ReleaseAsync(tenant, tenant.ClinicId, current.DoctorId, current.StartsAt, current.EndsAt,
                status == AppointmentRules.Cancelled ? "appointment.cancel" : "appointment.no_show", now, ct);
        }

        return TypedResults.Ok(row.ToResponse());
    }

    /// <summary>
    /// What a booking checks, for the new time or doctor: time ahead, doctor known and active, patient
    /// not blocked, inside the schedule. Also answers whether the new time lies outside it.
    /// </summary>
    private static async Task<(ApiProblem? Refusal, bool Outside)> CheckNewTimeAsync(Tenant tenant, Guid patientId, Guid doctorId,
        DateTimeOffset start, DateTimeOffset end, bool allowOutside, DateTimeOffset now, CancellationToken ct)
    {
        if (start < now && !allowOutside)
        {
            return (AppointmentRules.StartsInThePast(), false);
        }

        // The patient before the doctor, in the order a booking and an erasure take them.
        var blocked = await tenant.QuerySingleOrDefaultAsync<bool?>(PatientSql, new { tenant.ClinicId, PatientId = patientId }, ct);
        var schedule = await AppointmentRules.LoadScheduleAsync(tenant, tenant.ClinicId, doctorId, start, end, ct, forBooking: true);
        if (schedule is null)
        {
            return (ApiProblem.NotFound(), false);
        }

        if (blocked == true)
        {
            return (AppointmentRules.PatientBlocked(), false);
        }

        if (!schedule.Active)
        {
            return (AppointmentRules.DoctorInactive(), false);
        }

        var within = AppointmentRules.IsWithinSchedule(schedule, start, end);
        return (!within && !allowOutside ? AppointmentRules.OutsideSchedule() : null, !within);
    }

    private static void Compare<T>(List<string> changed, string name, T before, T after)
    {
        if (!EqualityComparer<T>.Default.Equals(before, after))
        {
            changed.Add(name);
        }
    }

    private sealed record Target(Guid DoctorId, Guid PatientId, DateTimeOffset StartsAt, DateTimeOffset EndsAt, string Status,
        string? Reason, string? Notes, bool OutsideSchedule, string Timezone);

    private sealed record Row(Guid Id, Guid DoctorId, Guid PatientId, DateTimeOffset StartsAt, DateTimeOffset EndsAt, string Status,
        string? Reason, string? Notes, bool OutsideSchedule, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, string DoctorName,
        string PatientName)
    {
        public Response ToResponse() => new(Id, DoctorId, PatientId, StartsAt, EndsAt, Status, Reason, Notes, OutsideSchedule,
            CreatedAt, UpdatedAt, new Summary(DoctorId, DoctorName), new Summary(PatientId, PatientName));
    }

    public sealed record Summary(Guid Id, string FullName);

    public sealed record Response(Guid Id, Guid DoctorId, Guid PatientId, DateTimeOffset StartsAt, DateTimeOffset EndsAt, string Status,
        string? Reason, string? Notes, bool OutsideSchedule, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, Summary Doctor,
        Summary Patient);
}
