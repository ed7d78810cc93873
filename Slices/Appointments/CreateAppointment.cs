using Carter;
using ClinicFlow.Infrastructure;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Appointments;

/// <summary>
/// POST /api/appointments: books a patient with a doctor inside the doctor's hours through the one
/// booking path (<see cref="AppointmentBooking"/>); the database's exclusion constraint refuses a
/// double booking, also between concurrent requests.
/// </summary>
public sealed class CreateAppointment : ICarterModule
{
    public sealed record Request(Guid? DoctorId, Guid? PatientId, DateTimeOffset? StartsAt, DateTimeOffset? EndsAt, int? DurationMinutes,
        string? Reason, string? Notes, bool? AllowOutsideSchedule);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.DoctorId).NotEmpty();
            RuleFor(r => r.PatientId).NotEmpty();
            RuleFor(r => r.StartsAt).NotNull();
            RuleFor(r => r.EndsAt).NotNull().When(r => r.DurationMinutes is null)
                .WithMessage(_ => new Text(
                    "Give endsAt or durationMinutes.",
                    "Indique endsAt o durationMinutes.",
                    "Geben Sie endsAt oder durationMinutes an.").Current);
            RuleFor(r => r.EndsAt).Null().When(r => r.DurationMinutes is not null)
                .WithMessage(_ => new Text(
                    "Give endsAt or durationMinutes, not both.",
                    "Indique endsAt o durationMinutes, no ambos.",
                    "Geben Sie endsAt oder durationMinutes an, nicht beides.").Current);
            RuleFor(r => r.EndsAt)
                .Must((r, end) => end > r.StartsAt && end - r.StartsAt <= TimeSpan.FromMinutes(AppointmentRules.MaxDurationMinutes))
                .When(r => r.StartsAt is not null && r.EndsAt is not null && r.DurationMinutes is null)
                .WithMessage(_ => AppointmentRules.EndMessage.Current);
            RuleFor(r => r.DurationMinutes).InclusiveBetween(5, AppointmentRules.MaxDurationMinutes);
            RuleFor(r => r.Reason).MaximumLength(500);
            RuleFor(r => r.Notes).MaximumLength(4000);
        }
    }

    // The answer is read through appointment_details.
    private const string ReadSql = """
        select id, doctor_id, patient_id, starts_at, ends_at, status, reason, notes, outside_schedule, created_at, updated_at,
               doctor_name, patient_name
        from appointment_details
        where clinic_id = @ClinicId and id = @Id
        """;

    private const string AnswerSql = ReadSql + ";\n" + AppointmentReminders.ContextSql;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/appointments")
            .MapPost("/", Handle)
            .WithName(nameof(CreateAppointment))
            .WithSummary("Book an appointment")
            .ProducesErrors(StatusCodes.Status409Conflict);

    private static async Task<Results<Created<Response>, ApiProblem>> Handle(
        Request request, Tenant tenant, Validator validator, TimeProvider clock, CancellationToken ct)
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

        // Npgsql writes timestamptz only from UTC offsets.
        var start = request.StartsAt!.Value.ToUniversalTime();
        var end = request.DurationMinutes is { } minutes ? start.AddMinutes(minutes) : request.EndsAt!.Value.ToUniversalTime();
        if (start < clock.GetUtcNow() && !allowOutside)
        {
            return AppointmentRules.StartsInThePast();
        }

        var booking = new AppointmentBooking.Booking(tenant.ClinicId, request.DoctorId!.Value, request.PatientId!.Value, start, end,
            request.Reason.TrimToNull(), request.Notes.TrimToNull(), allowOutside, tenant.UserId);
        // The checks travel with the gate; the answer and the reminders' context with the insert (the
        // doctor's row stays locked until COMMIT).
        var (booked, answer) = await AppointmentBooking.BookAsync(tenant, booking, AnswerSql,
            async results => (Row: await results.ReadSingleAsync<Row>(),
                Reminders: await results.ReadSingleOrDefaultAsync<AppointmentReminders.Context>()), ct);
        if (booked.Outcome != AppointmentBooking.Outcome.Booked)
        {
            return AppointmentBooking.Refusal(booked.Outcome);
        }

        var (row, reminders) = answer;
        AppointmentReminders.Queue(tenant, reminders, clock.GetUtcNow());

        // Ids and field names only: reason and notes can describe the patient's health.
        var fields = new List<string> { "doctorId", "patientId", "startsAt", "endsAt" };
        if (booking.Reason is not null)
        {
            fields.Add("reason");
        }

        if (booking.Notes is not null)
        {
            fields.Add("notes");
        }

        await tenant.AuditAsync("appointment.create", "appointment", row.Id, new
        {
            fields,
            doctorId = booking.DoctorId,
            patientId = booking.PatientId,
            outsideSchedule = booked.OutsideSchedule,
        }, ct);
        return TypedResults.Created($"/api/appointments/{row.Id}", row.ToResponse());
    }

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
