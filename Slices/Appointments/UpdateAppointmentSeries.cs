using System.Globalization;
using Carter;
using ClinicFlow.Infrastructure;
using Dapper;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace ClinicFlow.Slices.Appointments;

/// <summary>
/// PATCH /api/appointments/series/{seriesId}: changes this and the following occurrences (those on
/// or after <c>from</c>, still ahead and holding their slot): the wall-clock time, the length, the
/// doctor, reason or notes. New times pass the checks of a booking, all or nothing.
/// </summary>
public sealed class UpdateAppointmentSeries : ICarterModule
{
    public sealed record Request(DateOnly? From, string? Time, int? DurationMinutes, Guid? DoctorId, string? Reason, string? Notes,
        bool? AllowOutsideSchedule);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.From).NotNull();
            RuleFor(r => r.Time).Must(t => TryTime(t, out _)).When(r => r.Time is not null)
                .WithMessage(_ => new Text(
                    "time must be a time of day as HH:mm.",
                    "time debe ser una hora del día en formato HH:mm.",
                    "time muss eine Uhrzeit im Format HH:mm sein.").Current);
            RuleFor(r => r.DurationMinutes).InclusiveBetween(5, AppointmentRules.MaxDurationMinutes);
            RuleFor(r => r.DoctorId).NotEqual(Guid.Empty);
            RuleFor(r => r.Reason).MaximumLength(500);
            RuleFor(r => r.Notes).MaximumLength(4000);
        }
    }

    // Every occurrence of the series, locked: concurrent changes of one series apply one after the other.
    private const string SeriesSql = """
        select a.id, a.doctor_id, a.patient_id, a.starts_at, a.ends_at, a.status, a.reason, a.notes, a.outside_schedule, c.timezone
        from appointments a
        join clinics c on c.id = a.clinic_id
        where a.clinic_id = @ClinicId and a.series_id = @SeriesId
        order by a.starts_at
        for update of a
        """;

    private const string PatientSql = """
        select blocked
        from patients
        where clinic_id = @ClinicId and id = @PatientId
        for share
        """;

    private const string UpdateSql = """
        update appointments a
           set doctor_id = u.doctor_id, starts_at = u.starts_at, ends_at = u.ends_at, reason = u.reason, notes = u.notes,
               outside_schedule = u.outside_schedule, sequence = a.sequence + 1, updated_at = now()
          from unnest(@Ids, @Doctors, @Starts, @Ends, @Reasons, @Notes, @Outside)
               as u(id, doctor_id, starts_at, ends_at, reason, notes, outside_schedule)
         where a.clinic_id = @ClinicId and a.id = u.id
        """;

    private const string ReadSql = """
        select id, doctor_id, patient_id, starts_at, ends_at, status, reason, notes, outside_schedule, created_at, updated_at,
               doctor_name, patient_name, series_id
        from appointment_details
        where clinic_id = @ClinicId and id = any(@Ids)
        order by starts_at
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/appointments")
            .MapPatch("/series/{seriesId:guid}", Handle)
            .WithName(nameof(UpdateAppointmentSeries))
            .WithSummary("Change this and the following occurrences of a series")
            .ProducesErrors(StatusCodes.Status409Conflict);

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(
        Guid seriesId, Request request, Tenant tenant, Validator validator, TimeProvider clock, CancellationToken ct)
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

        var series = (await tenant.QueryAsync<Target>(SeriesSql, new { tenant.ClinicId, SeriesId = seriesId }, ct)).ToList();
        if (series.Count == 0)
        {
            return ApiProblem.NotFound();
        }

        var zone = TimeZoneInfo.FindSystemTimeZoneById(series[0].Timezone);
        var now = clock.GetUtcNow();
        var affected = series
            .Where(a => AppointmentRules.LocalDate(a.StartsAt, zone) >= request.From!.Value && a.StartsAt > now
                && AppointmentRules.CanReschedule(a.Status))
            .ToList();

        TryTime(request.Time, out var time);
        var changes = new List<Change>();
        foreach (var current in affected)
        {
            var date = AppointmentRules.LocalDate(current.StartsAt, zone);
            var start = time is { } t ? AppointmentSeriesRules.LocalInstant(date, t, zone) : current.StartsAt;
            var end = start + (request.DurationMinutes is { } minutes ? TimeSpan.FromMinutes(minutes) : current.EndsAt - current.StartsAt);
            var target = new Change(current, new AppointmentSeriesRules.Occurrence(date, start, end), request.DoctorId ?? current.DoctorId,
                request.Reason is null ? current.Reason : request.Reason.TrimToNull(),
                request.Notes is null ? current.Notes : request.Notes.TrimToNull());
            if (target.Moved || target.Edited.Count > 0)
            {
                changes.Add(target);
            }
        }

        var moved = changes.Where(c => c.Moved).ToList();
        var outside = new Dictionary<Guid, bool>();
        if (moved.Count > 0)
        {
            if (moved.Any(c => c.Next.Start < now) && !allowOutside)
            {
                return AppointmentRules.StartsInThePast();
            }

            // The patient before the doctor, in the order a booking and an erasure take them.
            var blocked = await tenant.QuerySingleOrDefaultAsync<bool?>(PatientSql, new { tenant.ClinicId, series[0].PatientId }, ct);
            if (blocked == true)
            {
                return AppointmentRules.PatientBlocked();
            }

            var movedIds = moved.Select(c => c.Current.Id).ToList();
            var conflicts = new List<AppointmentSeriesRules.Conflict>();
            foreach (var group in moved.GroupBy(c => c.DoctorId).OrderBy(g => g.Key))
            {
                var occurrences = group.Select(c => c.Next).ToList();
                var schedule = await AppointmentRules.LoadScheduleAsync(tenant, tenant.ClinicId, group.Key, occurrences.Min(o => o.Start),
                    occurrences.Max(o => o.End), ct, forBooking: true);
                if (schedule is null)
                {
                    return ApiProblem.NotFound();
                }

                if (!schedule.Active)
                {
                    return AppointmentRules.DoctorInactive();
                }

                var check = await AppointmentSeriesRules.CheckAsync(tenant, schedule, group.Key, occurrences, movedIds, allowOutside, ct);
                conflicts.AddRange(check.Conflicts);
                foreach (var change in group)
                {
                    if (check.Outside.TryGetValue(change.Next, out var isOutside))
                    {
                        outside[change.Current.Id] = isOutside;
                    }
                }
            }

            if (conflicts.Count > 0)
            {
                return AppointmentSeriesRules.Refusal(conflicts.OrderBy(c => c.Occurrence.Start).ToList());
            }
        }

        if (changes.Count > 0)
        {
            try
            {
                await tenant.ExecuteAsync(UpdateSql, new
                {
                    tenant.ClinicId,
                    Ids = changes.Select(c => c.Current.Id).ToArray(),
                    Doctors = changes.Select(c => c.DoctorId).ToArray(),
                    Starts = changes.Select(c => c.Next.Start).ToArray(),
                    Ends = changes.Select(c => c.Next.End).ToArray(),
                    Reasons = changes.Select(c => c.Reason).ToArray(),
                    Notes = changes.Select(c => c.Notes).ToArray(),
                    Outside = changes.Select(c => outside.TryGetValue(c.Current.Id, out var o) ? o : c.Current.OutsideSchedule).ToArray(),
                }, ct);
            }
            catch (PostgresException e) when (AppointmentRules.IsOverlap(e))
            {
                return AppointmentRules.Overlap();
            }
        }

        // As a single change: one entry per kind of change and appointment; ids and field names only.
        foreach (var change in changes)
        {
            if (change.Moved)
            {
                await tenant.AuditAsync("appointment.reschedule", "appointment", change.Current.Id, new
                {
                    fields = change.MovedFields,
                    fromDoctorId = change.Current.DoctorId,
                    toDoctorId = change.DoctorId,
                    outsideSchedule = outside.GetValueOrDefault(change.Current.Id, change.Current.OutsideSchedule),
                    seriesId,
                }, ct);
            }

            if (change.Edited.Count > 0)
            {
                await tenant.AuditAsync("appointment.update", "appointment", change.Current.Id, new { fields = change.Edited, seriesId }, ct);
            }
        }

        // Reminders follow the moved occurrences to their new times, as for a single appointment.
        await AppointmentReminders.RescheduledAsync(tenant, tenant.ClinicId, [.. changes.Where(c => c.Moved).Select(c => c.Current.Id)], now, ct);

        var rows = await tenant.QueryAsync<Row>(ReadSql, new { tenant.ClinicId, Ids = affected.Select(a => a.Id).ToArray() }, ct);
        return TypedResults.Ok(new Response(seriesId, rows.Select(r => r.ToResponse()).ToList()));
    }

    private static bool TryTime(string? text, out TimeOnly? time)
    {
        time = null;
        if (text is null || !TimeOnly.TryParseExact(text, "HH:mm", CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed))
        {
            return false;
        }

        time = parsed;
        return true;
    }

    private sealed record Target(Guid Id, Guid DoctorId, Guid PatientId, DateTimeOffset StartsAt, DateTimeOffset EndsAt, string Status,
        string? Reason, string? Notes, bool OutsideSchedule, string Timezone);

    private sealed record Change(Target Current, AppointmentSeriesRules.Occurrence Next, Guid DoctorId, string? Reason, string? Notes)
    {
        public List<string> MovedFields { get; } = Fields(
            ("startsAt", Current.StartsAt != Next.Start), ("endsAt", Current.EndsAt != Next.End), ("doctorId", Current.DoctorId != DoctorId));

        public List<string> Edited { get; } = Fields(("reason", Current.Reason != Reason), ("notes", Current.Notes != Notes));

        public bool Moved => MovedFields.Count > 0;

        private static List<string> Fields(params (string Name, bool Changed)[] fields) =>
            fields.Where(f => f.Changed).Select(f => f.Name).ToList();
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

    /// <summary>The occurrences the change covered (on or after <c>from</c>, still ahead and holding their slot), as they are now.</summary>
    public sealed record Response(Guid SeriesId, IReadOnlyList<Appointment> Appointments);
}
