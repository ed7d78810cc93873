using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Waitlist;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Appointments;

/// <summary>
/// DELETE /api/appointments/series/{seriesId}?from=YYYY-MM-DD: cancels this and the following
/// occurrences (on or after <c>from</c> in the clinic's zone, still ahead and holding their slot),
/// which frees their slots (offered to the waiting list); earlier and attended ones stay as they are.
/// </summary>
public sealed class CancelAppointmentSeries : ICarterModule
{
    // Every occurrence of the series, locked: concurrent changes of one series apply one after the other.
    private const string SeriesSql = """
        select a.id, a.starts_at, a.status, c.timezone
        from appointments a
        join clinics c on c.id = a.clinic_id
        where a.clinic_id = @ClinicId and a.series_id = @SeriesId
        order by a.starts_at
        for update of a
        """;

    private const string CancelSql = """
        update appointments
           set status = 'cancelled', status_changed_at = now(), sequence = sequence + 1, updated_at = now()
         where clinic_id = @ClinicId and id = any(@Ids);

        select id, doctor_id, patient_id, starts_at, ends_at, status, reason, notes, outside_schedule, created_at, updated_at,
               doctor_name, patient_name, series_id
        from appointment_details
        where clinic_id = @ClinicId and id = any(@Ids)
        order by starts_at;
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/appointments")
            .MapDelete("/series/{seriesId:guid}", Handle)
            .WithName(nameof(CancelAppointmentSeries))
            .WithSummary("Cancel this and the following occurrences of a series");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(
        Guid seriesId, DateOnly? from, Tenant tenant, TimeProvider clock, CancellationToken ct)
    {
        if (from is null)
        {
            return ApiProblem.Validation("from", new Text(
                "from is required: the first date (YYYY-MM-DD) to cancel.",
                "from es obligatorio: la primera fecha (AAAA-MM-DD) a cancelar.",
                "from ist erforderlich: das erste abzusagende Datum (JJJJ-MM-TT)."));
        }

        var series = (await tenant.QueryAsync<Target>(SeriesSql, new { tenant.ClinicId, SeriesId = seriesId }, ct)).ToList();
        if (series.Count == 0)
        {
            return ApiProblem.NotFound();
        }

        var zone = TimeZoneInfo.FindSystemTimeZoneById(series[0].Timezone);
        var now = clock.GetUtcNow();
        var cancelled = series
            .Where(a => AppointmentRules.LocalDate(a.StartsAt, zone) >= from.Value && a.StartsAt > now
                && AppointmentRules.CanMove(a.Status, AppointmentRules.Cancelled))
            .ToList();
        if (cancelled.Count == 0)
        {
            return TypedResults.Ok(new Response(seriesId, []));
        }

        var rows = (await tenant.QueryAsync<Row>(CancelSql, new { tenant.ClinicId, Ids = cancelled.Select(a => a.Id).ToArray() }, ct)).ToList();
        foreach (var appointment in cancelled)
        {
            await tenant.AuditAsync("appointment.cancel", "appointment", appointment.Id,
                new { from = appointment.Status, to = AppointmentRules.Cancelled, seriesId }, ct);
        }

        await AppointmentReminders.DropAsync(tenant, tenant.ClinicId, [.. cancelled.Select(a => a.Id)], "appointment cancelled", ct);

        // The freed slots are offered to the waiting list in this transaction.
        foreach (var row in rows)
        {
            await WaitlistMachine.ReleaseAsync(tenant, tenant.ClinicId, row.DoctorId, row.StartsAt, row.EndsAt, "appointment.cancel", now, ct);
        }

        return TypedResults.Ok(new Response(seriesId, rows.Select(r => r.ToResponse()).ToList()));
    }

    private sealed record Target(Guid Id, DateTimeOffset StartsAt, string Status, string Timezone);

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

    /// <summary>The occurrences this request cancelled; an empty list when none was left to cancel.</summary>
    public sealed record Response(Guid SeriesId, IReadOnlyList<Appointment> Appointments);
}
