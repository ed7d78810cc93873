using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Appointments;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Doctors;

/// <summary>
/// POST /api/doctors/{id}/time-off: an admin records an absence of a doctor. Appointments already
/// booked in it are kept, not cancelled; the answer counts them (overlappingAppointments) so the
/// clinic can reschedule them.
/// </summary>
public sealed class CreateTimeOff : ICarterModule
{
    public const int MaxDays = 366;

    public sealed record Request(DateTimeOffset? StartsAt, DateTimeOffset? EndsAt, string? Reason);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.StartsAt).NotNull();
            RuleFor(r => r.EndsAt).NotNull();
            RuleFor(r => r.EndsAt)
                .GreaterThan(r => r.StartsAt).When(r => r.StartsAt is not null && r.EndsAt is not null)
                .WithMessage("endsAt must be after startsAt.");
            RuleFor(r => r.EndsAt)
                .Must((r, end) => end - r.StartsAt <= TimeSpan.FromDays(MaxDays))
                .When(r => r.StartsAt is not null && r.EndsAt is not null)
                .WithMessage($"Time off lasts at most {MaxDays} days.");
            RuleFor(r => r.Reason).MaximumLength(500);
        }
    }

    // Appointments that still hold their time (not cancelled, not no-show) are the ones to reschedule.
    private const string Sql = """
        with inserted as (
            insert into doctor_time_off (id, clinic_id, doctor_id, starts_at, ends_at, reason)
            select @Id, d.clinic_id, d.id, @StartsAt, @EndsAt, @Reason
            from doctors d
            where d.clinic_id = @ClinicId and d.id = @DoctorId
            returning id, doctor_id, starts_at, ends_at, reason, created_at
        )
        select i.id, i.doctor_id, i.starts_at, i.ends_at, i.reason, i.created_at,
               (select count(*)::int
                from appointments a
                where a.clinic_id = @ClinicId and a.doctor_id = @DoctorId
                  and a.status not in ('cancelled', 'no_show')
                  and a.starts_at > @EarliestStart and a.starts_at < @EndsAt and a.ends_at > @StartsAt) as overlapping_appointments
        from inserted i
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/doctors")
            .MapPost("/{id:guid}/time-off", Handle)
            .RequireAdmin()
            .WithName(nameof(CreateTimeOff))
            .WithSummary("Record a doctor's time off (booked appointments are kept and counted)");

    private static async Task<Results<Created<Response>, ApiProblem>> Handle(
        Guid id, Request request, Tenant tenant, Validator validator, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        var reason = request.Reason.TrimToNull();
        var timeOff = await tenant.QuerySingleOrDefaultAsync<Response>(Sql, new
        {
            Id = Guid.CreateVersion7(),
            tenant.ClinicId,
            DoctorId = id,
            // Npgsql writes timestamptz only from UTC offsets.
            StartsAt = request.StartsAt!.Value.ToUniversalTime(),
            EndsAt = request.EndsAt!.Value.ToUniversalTime(),
            EarliestStart = AppointmentRules.EarliestOverlappingStart(request.StartsAt!.Value.ToUniversalTime()),
            Reason = reason,
        }, ct);
        if (timeOff is null)
        {
            return ApiProblem.NotFound();
        }

        var fields = reason is null ? new[] { "startsAt", "endsAt" } : ["startsAt", "endsAt", "reason"];
        await tenant.AuditAsync("doctor.time_off_create", "doctor_time_off", timeOff.Id, new { doctorId = id, fields }, ct);
        return TypedResults.Created($"/api/doctors/{id}/time-off/{timeOff.Id}", timeOff);
    }

    public sealed record Response(Guid Id, Guid DoctorId, DateTimeOffset StartsAt, DateTimeOffset EndsAt, string? Reason,
        DateTimeOffset CreatedAt, int OverlappingAppointments);
}
