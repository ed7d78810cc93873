using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Waitlist;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Appointments;

/// <summary>
/// POST /api/appointments/{id}/attendance: the front desk records a check-in (on the appointment's
/// day), a no-show (once it has begun) or the end of the visit.
/// </summary>
public sealed class RecordAttendance : ICarterModule
{
    private static readonly string[] Allowed = [AppointmentRules.CheckedIn, AppointmentRules.NoShow, AppointmentRules.Completed];

    public sealed record Request(string? Status);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.Status).NotEmpty().Must(s => Allowed.Contains(s))
                .WithMessage(_ => new Text(
                    "status must be checked_in, no_show or completed.",
                    "status debe ser checked_in, no_show o completed.",
                    "status muss checked_in, no_show oder completed sein.").Current);
        }
    }

    // Locked so a concurrent PATCH or QR check-in applies before or after this one, never in between.
    private const string TargetSql = """
        select a.starts_at, a.status, c.timezone
        from appointments a
        join clinics c on c.id = a.clinic_id
        where a.clinic_id = @ClinicId and a.id = @Id
        for update of a
        """;

    private const string UpdateSql = """
        update appointments
           set status = @Status, status_changed_at = now(), updated_at = now(), sequence = sequence + 1
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
            .MapPost("/{id:guid}/attendance", Handle)
            .WithName(nameof(RecordAttendance))
            .WithSummary("Record a check-in, a no-show or the end of the visit")
            .ProducesErrors(StatusCodes.Status409Conflict);

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(
        Guid id, Request request, Tenant tenant, Validator validator, TimeProvider clock, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        var current = await tenant.QuerySingleOrDefaultAsync<Target>(TargetSql, new { tenant.ClinicId, Id = id }, ct);
        if (current is null)
        {
            return ApiProblem.NotFound();
        }

        var status = request.Status!;
        // A retried request (a double tap at the front desk) answers the appointment as it is.
        if (status == current.Status)
        {
            var unchanged = await tenant.QuerySingleAsync<Row>(ReadSql, new { tenant.ClinicId, Id = id }, ct);
            return TypedResults.Ok(unchanged.ToResponse());
        }

        if (!AppointmentRules.CanMove(current.Status, status))
        {
            return AppointmentRules.InvalidState(current.Status, status);
        }

        var now = clock.GetUtcNow();
        var zone = TimeZoneInfo.FindSystemTimeZoneById(current.Timezone);
        if (AppointmentRules.AttendanceTiming(status, current.StartsAt, zone, now) is { } refusal)
        {
            return refusal;
        }

        var row = await tenant.QuerySingleAsync<Row>(UpdateSql, new { tenant.ClinicId, Id = id, Status = status }, ct);
        await AppointmentReminders.DropAsync(tenant, tenant.ClinicId, [id], $"appointment {status}", ct);
        var action = status switch
        {
            AppointmentRules.CheckedIn => "appointment.check_in",
            AppointmentRules.NoShow => "appointment.no_show",
            _ => "appointment.complete",
        };
        await tenant.AuditAsync(action, "appointment", id, new { from = current.Status, to = status }, ct);

        // A no-show frees what is left of the slot: the waiting list is offered it in this transaction.
        if (status == AppointmentRules.NoShow)
        {
            await WaitlistMachine.ReleaseAsync(tenant, tenant.ClinicId, row.DoctorId, row.StartsAt, row.EndsAt, "appointment.no_show", now, ct);
        }

        return TypedResults.Ok(row.ToResponse());
    }

    private sealed record Target(DateTimeOffset StartsAt, string Status, string Timezone);

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
