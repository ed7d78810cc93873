using Carter;
using ClinicFlow.Infrastructure;
using Dapper;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace ClinicFlow.Slices.Appointments;

/// <summary>
/// POST /api/appointments/series: books a recurring appointment (an RRULE expanded in the clinic's
/// zone), every occurrence a normal appointment under the checks of a single booking; all or
/// nothing, or the free dates with the others listed as skipped.
/// </summary>
public sealed class CreateAppointmentSeries : ICarterModule
{
    public sealed record Request(Guid? DoctorId, Guid? PatientId, DateTimeOffset? StartsAt, DateTimeOffset? EndsAt, int? DurationMinutes,
        string? Reason, string? Notes, bool? AllowOutsideSchedule, string? Recurrence, string? Mode);

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
            RuleFor(r => r.Recurrence).NotEmpty().MaximumLength(500);
            RuleFor(r => r.Mode).Must(m => AppointmentSeriesRules.Modes.Contains(m)).When(r => r.Mode is not null)
                .WithMessage(_ => new Text(
                    $"mode must be one of {string.Join(", ", AppointmentSeriesRules.Modes)}.",
                    $"mode debe ser uno de {string.Join(", ", AppointmentSeriesRules.Modes)}.",
                    $"mode muss einer von {string.Join(", ", AppointmentSeriesRules.Modes)} sein.").Current);
        }
    }

    // The clinic's zone, and the patient share-locked as a single booking takes it.
    private const string PatientSql = """
        select timezone from clinics where id = @ClinicId;

        select blocked
        from patients
        where clinic_id = @ClinicId and id = @PatientId and erased_at is null
        for share;
        """;

    // Every occurrence in one statement, and the answer in the same round trip.
    private const string InsertSql = """
        insert into appointments (id, clinic_id, doctor_id, patient_id, starts_at, ends_at, reason, notes, outside_schedule,
                                  created_by, series_id)
        select o.id, @ClinicId, @DoctorId, @PatientId, o.starts_at, o.ends_at, @Reason, @Notes, o.outside_schedule, @CreatedBy, @SeriesId
        from unnest(@Ids, @Starts, @Ends, @Outside) as o(id, starts_at, ends_at, outside_schedule);

        select id, doctor_id, patient_id, starts_at, ends_at, status, reason, notes, outside_schedule, created_at, updated_at,
               doctor_name, patient_name, series_id
        from appointment_details
        where clinic_id = @ClinicId and series_id = @SeriesId
        order by starts_at;
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/appointments")
            .MapPost("/series", Handle)
            .WithName(nameof(CreateAppointmentSeries))
            .WithSummary("Book a recurring appointment (RRULE)")
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

        string timezone;
        bool? blocked;
        await using (var read = await tenant.QueryMultipleAsync(PatientSql, new { tenant.ClinicId, request.PatientId }, ct))
        {
            timezone = await read.ReadSingleAsync<string>();
            blocked = await read.ReadSingleOrDefaultAsync<bool?>();
        }

        var zone = TimeZoneInfo.FindSystemTimeZoneById(timezone);
        var (occurrences, error) = AppointmentSeriesRules.Expand(request.Recurrence!, start, end - start, zone);
        if (occurrences is null)
        {
            return ApiProblem.Validation("recurrence", error!);
        }

        var doctorId = request.DoctorId!.Value;
        var schedule = await AppointmentRules.LoadScheduleAsync(tenant, tenant.ClinicId, doctorId, occurrences[0].Start,
            occurrences[^1].End, ct, forBooking: true);
        if (schedule is null || blocked is null)
        {
            return ApiProblem.NotFound();
        }

        if (blocked.Value)
        {
            return AppointmentRules.PatientBlocked();
        }

        if (!schedule.Active)
        {
            return AppointmentRules.DoctorInactive();
        }

        var (conflicts, outside) = await AppointmentSeriesRules.CheckAsync(tenant, schedule, doctorId, occurrences, [], allowOutside, ct);
        var skipConflicts = request.Mode == AppointmentSeriesRules.SkipConflicts;
        if (conflicts.Count > 0 && (!skipConflicts || outside.Count == 0))
        {
            return AppointmentSeriesRules.Refusal(conflicts);
        }

        var toBook = occurrences.Where(outside.ContainsKey).ToList();
        var seriesId = Guid.CreateVersion7();
        var reason = request.Reason.TrimToNull();
        var notes = request.Notes.TrimToNull();
        List<Row> rows;
        try
        {
            rows = [.. await tenant.QueryAsync<Row>(InsertSql, new
            {
                tenant.ClinicId,
                DoctorId = doctorId,
                PatientId = request.PatientId!.Value,
                Reason = reason,
                Notes = notes,
                CreatedBy = tenant.UserId,
                SeriesId = seriesId,
                Ids = toBook.Select(_ => Guid.CreateVersion7()).ToArray(),
                Starts = toBook.Select(o => o.Start).ToArray(),
                Ends = toBook.Select(o => o.End).ToArray(),
                Outside = toBook.Select(o => outside[o]).ToArray(),
            }, ct)];
        }
        catch (PostgresException e) when (AppointmentRules.IsOverlap(e))
        {
            return AppointmentRules.Overlap();
        }

        // As a single booking: ids and field names only, one entry per appointment.
        var fields = new List<string> { "doctorId", "patientId", "startsAt", "endsAt" };
        if (reason is not null)
        {
            fields.Add("reason");
        }

        if (notes is not null)
        {
            fields.Add("notes");
        }

        var now = clock.GetUtcNow();
        foreach (var row in rows)
        {
            await tenant.AuditAsync("appointment.create", "appointment", row.Id, new
            {
                fields,
                doctorId,
                patientId = row.PatientId,
                outsideSchedule = row.OutsideSchedule,
                seriesId,
            }, ct);
        }

        // Every occurrence is a normal appointment: its reminders are queued like a single booking's
        // (the occurrences' contexts read in one round trip).
        await AppointmentReminders.QueueAsync(tenant, tenant.ClinicId, [.. rows.Select(r => r.Id)], now, ct);

        var skipped = conflicts.Select(c => new Skipped(c.Occurrence.Date, c.Occurrence.Start, c.Occurrence.End, c.Reason)).ToList();
        // No Location: a series is no resource of its own, its appointments each have theirs.
        return TypedResults.Created((string?)null, new Response(seriesId, rows.Select(r => r.ToResponse()).ToList(), skipped));
    }

    private sealed record Row(Guid Id, Guid DoctorId, Guid PatientId, DateTimeOffset StartsAt, DateTimeOffset EndsAt, string Status,
        string? Reason, string? Notes, bool OutsideSchedule, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, string DoctorName,
        string PatientName, Guid? SeriesId)
    {
        public Appointment ToResponse() => new(Id, DoctorId, PatientId, StartsAt, EndsAt, Status, Reason, Notes, OutsideSchedule,
            CreatedAt, UpdatedAt, SeriesId, new Summary(DoctorId, DoctorName), new Summary(PatientId, PatientName));
    }

    public sealed record Summary(Guid Id, string FullName);

    public sealed record Appointment(Guid Id, Guid DoctorId, Guid PatientId, DateTimeOffset StartsAt, DateTimeOffset EndsAt, string Status,
        string? Reason, string? Notes, bool OutsideSchedule, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, Guid? SeriesId,
        Summary Doctor, Summary Patient);

    /// <summary>An occurrence left out in skip_conflicts mode: its local date, times and why (appointment_conflict, outside_schedule).</summary>
    public sealed record Skipped(DateOnly Date, DateTimeOffset StartsAt, DateTimeOffset EndsAt, string Reason);

    public sealed record Response(Guid SeriesId, IReadOnlyList<Appointment> Appointments, IReadOnlyList<Skipped> Skipped);
}
