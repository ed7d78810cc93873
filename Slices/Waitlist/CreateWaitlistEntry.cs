using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Appointments;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Waitlist;

/// <summary>
/// POST /api/waitlist: puts a patient on the waiting list for an earlier slot: a window
/// (<c>from</c>..<c>to</c>), the length needed and optionally one doctor. When a fitting slot frees
/// up, the patient is offered it by WhatsApp (docs/waitlist.md).
/// </summary>
public sealed class CreateWaitlistEntry : ICarterModule
{
    public const int DefaultDurationMinutes = 30;
    public const int MaxWindowDays = 366;

    /// <summary><c>from</c> defaults to now, <c>durationMinutes</c> to 30; <c>doctorId</c> null means any doctor.</summary>
    public sealed record Request(Guid? PatientId, Guid? DoctorId, DateTimeOffset? From, DateTimeOffset? To, int? DurationMinutes,
        string? Note);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.PatientId).NotEmpty();
            RuleFor(r => r.DoctorId).NotEqual(Guid.Empty);
            RuleFor(r => r.To).NotNull();
            RuleFor(r => r.DurationMinutes).InclusiveBetween(5, AppointmentRules.MaxDurationMinutes);
            RuleFor(r => r.Note).MaximumLength(1000);
        }
    }

    /// <summary>The window must end ahead, after it starts, within a year, and hold the length asked for.</summary>
    private static Text? WindowProblem(DateTimeOffset from, DateTimeOffset to, int duration, DateTimeOffset now)
    {
        if (to <= now)
        {
            return new("to is in the past.", "to está en el pasado.", "to liegt in der Vergangenheit.");
        }

        if (to <= from)
        {
            return new("to must be after from.", "to debe ser posterior a from.", "to muss nach from liegen.");
        }

        if (to - from > TimeSpan.FromDays(MaxWindowDays))
        {
            return new($"The window spans at most {MaxWindowDays} days.", $"La ventana abarca como máximo {MaxWindowDays} días.",
                $"Das Zeitfenster umfasst höchstens {MaxWindowDays} Tage.");
        }

        return to - from < TimeSpan.FromMinutes(duration)
            ? new("The window is shorter than durationMinutes.", "La ventana es más corta que durationMinutes.",
                "Das Zeitfenster ist kürzer als durationMinutes.")
            : null;
    }

    // Share-locked so a concurrent erasure waits for this entry instead of racing it.
    private const string PatientSql = """
        select blocked
        from patients
        where clinic_id = @ClinicId and id = @PatientId and erased_at is null
        for share
        """;

    private const string DoctorSql = "select active from doctors where clinic_id = @ClinicId and id = @DoctorId";

    private const string InsertSql = """
        insert into waitlist_entries (id, clinic_id, patient_id, doctor_id, window_from, window_to, duration_minutes, note, created_by)
        values (@Id, @ClinicId, @PatientId, @DoctorId, @From, @To, @DurationMinutes, @Note, @CreatedBy);
        select e.id, e.patient_id, e.doctor_id, e.window_from, e.window_to, e.duration_minutes, e.note, e.status, e.created_at,
               e.updated_at, p.full_name as patient_name, d.full_name as doctor_name
        from waitlist_entries e
        join patients p on p.clinic_id = e.clinic_id and p.id = e.patient_id
        left join doctors d on d.clinic_id = e.clinic_id and d.id = e.doctor_id
        where e.clinic_id = @ClinicId and e.id = @Id;
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/waitlist")
            .MapPost("/", Handle)
            .WithName(nameof(CreateWaitlistEntry))
            .WithSummary("Put a patient on the waiting list for an earlier slot")
            .ProducesErrors(StatusCodes.Status409Conflict);

    private static async Task<Results<Created<Response>, ApiProblem>> Handle(
        Request request, Tenant tenant, Validator validator, TimeProvider clock, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        // Npgsql writes timestamptz only from UTC offsets.
        var now = clock.GetUtcNow();
        var from = request.From?.ToUniversalTime() ?? now;
        var to = request.To!.Value.ToUniversalTime();
        var duration = request.DurationMinutes ?? DefaultDurationMinutes;
        if (WindowProblem(from, to, duration, now) is { } problem)
        {
            return ApiProblem.Validation("to", problem);
        }

        var blocked = await tenant.QuerySingleOrDefaultAsync<bool?>(PatientSql, new { tenant.ClinicId, request.PatientId }, ct);
        if (blocked is null)
        {
            return ApiProblem.NotFound();
        }

        bool? active = null;
        if (request.DoctorId is { } doctorId)
        {
            active = await tenant.QuerySingleOrDefaultAsync<bool?>(DoctorSql, new { tenant.ClinicId, DoctorId = doctorId }, ct);
            if (active is null)
            {
                return ApiProblem.NotFound();
            }
        }

        if (blocked.Value)
        {
            return AppointmentRules.PatientBlocked();
        }

        if (active == false)
        {
            return AppointmentRules.DoctorInactive();
        }

        var note = request.Note.TrimToNull();
        var row = await tenant.QuerySingleAsync<Row>(InsertSql, new
        {
            Id = Guid.CreateVersion7(),
            tenant.ClinicId,
            request.PatientId,
            request.DoctorId,
            From = from,
            To = to,
            DurationMinutes = duration,
            Note = note,
            CreatedBy = tenant.UserId,
        }, ct);

        // Ids and field names only: the note can describe the patient's health.
        await tenant.AuditAsync("waitlist.create", "waitlist_entry", row.Id, new
        {
            patientId = row.PatientId,
            doctorId = row.DoctorId,
            from = row.WindowFrom,
            to = row.WindowTo,
            durationMinutes = row.DurationMinutes,
            fields = note is null ? Array.Empty<string>() : ["note"],
        }, ct);
        return TypedResults.Created((string?)null, row.ToResponse());
    }

    private sealed record Row(Guid Id, Guid PatientId, Guid? DoctorId, DateTimeOffset WindowFrom, DateTimeOffset WindowTo, int DurationMinutes,
        string? Note, string Status, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, string PatientName, string? DoctorName)
    {
        public Response ToResponse() => new(Id, PatientId, DoctorId, WindowFrom, WindowTo, DurationMinutes, Note, Status, CreatedAt, UpdatedAt,
            new Summary(PatientId, PatientName), DoctorId is { } doctorId ? new Summary(doctorId, DoctorName ?? "") : null);
    }

    public sealed record Summary(Guid Id, string FullName);

    /// <summary>A new entry waits (<c>status: waiting</c>) and has no offer yet.</summary>
    public sealed record Response(Guid Id, Guid PatientId, Guid? DoctorId, DateTimeOffset From, DateTimeOffset To, int DurationMinutes,
        string? Note, string Status, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, Summary Patient, Summary? Doctor);
}
