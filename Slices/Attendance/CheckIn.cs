using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Appointments;
using ClinicFlow.Slices.Clinics;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Attendance;

/// <summary>
/// POST /api/attendance/check-in/{qrToken}: public; a patient who scanned the clinic's QR gives their
/// phone and today's next appointment (clinic's zone) becomes checked_in. Answers no patient data.
/// </summary>
public sealed class CheckIn : ICarterModule
{
    public sealed record Request(string? Phone);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator() => RuleFor(r => r.Phone).NotEmpty().MaximumLength(40);
    }

    private sealed record Link(Guid ClinicId, bool Revoked, string Country, string Timezone);

    private sealed record Candidate(Guid Id, DateTimeOffset StartsAt, string Status, string DoctorName);

    // The system connection sees every clinic: the token resolves the clinic, and every later
    // statement is bound to it.
    private const string LinkSql = """
        select t.clinic_id, t.revoked_at is not null as revoked, c.country, c.timezone
        from attendance_tokens t
        join clinics c on c.id = t.clinic_id
        where t.token_hash = @TokenHash and c.active
        """;

    // Today's earliest appointment not yet over among the clinic's patients with this phone. One
    // already checked in counts too, so scanning twice does not check in the next visit.
    private const string CandidateSql = """
        select a.id, a.starts_at, a.status, d.full_name as doctor_name
        from appointments a
        join patients p on p.clinic_id = a.clinic_id and p.id = a.patient_id
        join doctors d on d.clinic_id = a.clinic_id and d.id = a.doctor_id
        where a.clinic_id = @ClinicId and p.clinic_id = @ClinicId and d.clinic_id = @ClinicId
          and p.phone = @Phone and p.erased_at is null
          and a.starts_at >= @DayStart and a.starts_at < @DayEnd and a.ends_at > @Now
          and a.status in ('scheduled', 'confirmed', 'checked_in')
        order by a.starts_at, a.id
        limit 1
        for update of a
        """;

    private const string CheckInSql = """
        update appointments
           set status = 'checked_in', sequence = sequence + 1, updated_at = now(), status_changed_at = now()
         where clinic_id = @ClinicId and id = @Id and status in ('scheduled', 'confirmed')
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapSystemGroup("/attendance", RateLimits.PublicLinks)
            .MapPost("/check-in/{qrToken}", Handle)
            .WithName(nameof(CheckIn))
            .WithSummary("Check in at the front desk: the QR's token and the patient's phone")
            .ProducesErrors(StatusCodes.Status404NotFound, StatusCodes.Status410Gone);

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(
        string qrToken, Request request, SystemScope db, Validator validator, TimeProvider clock, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        var link = qrToken.Length > 200
            ? null
            : await db.QuerySingleOrDefaultAsync<Link>(LinkSql, new { TokenHash = SecretBox.Hash(qrToken) }, ct);
        if (link is null)
        {
            return ApiProblem.NotFound();
        }

        if (link.Revoked)
        {
            return ApiProblem.Of(StatusCodes.Status410Gone, ErrorCodes.LinkRevoked);
        }

        if (ClinicRules.NormalizePhone(request.Phone, link.Country.Trim()) is not { } phone)
        {
            return ClinicRules.InvalidPhone();
        }

        var zone = TimeZoneInfo.FindSystemTimeZoneById(link.Timezone);
        var now = clock.GetUtcNow();
        var today = AppointmentRules.LocalDate(now, zone);
        var candidate = await db.QuerySingleOrDefaultAsync<Candidate>(CandidateSql, new
        {
            link.ClinicId,
            Phone = phone,
            DayStart = AppointmentRules.StartOfLocalDay(today, zone),
            DayEnd = AppointmentRules.StartOfLocalDay(today.AddDays(1), zone),
            Now = now,
        }, ct);
        if (candidate is null)
        {
            return ApiProblem.Of(StatusCodes.Status404NotFound, ErrorCodes.NotFound, new(
                "No appointment today for this phone number.",
                "No hay ninguna cita hoy para este número de teléfono.",
                "Für diese Telefonnummer gibt es heute keinen Termin."));
        }

        if (candidate.Status != AppointmentRules.CheckedIn)
        {
            await db.ExecuteAsync(CheckInSql, new { link.ClinicId, candidate.Id }, ct);
            await db.AuditAsync(link.ClinicId, "appointment.check_in", "appointment", candidate.Id,
                new { from = candidate.Status, to = AppointmentRules.CheckedIn, via = "qr" }, ct);
        }

        return TypedResults.Ok(new Response(candidate.Id, candidate.StartsAt, candidate.DoctorName, AppointmentRules.CheckedIn));
    }

    public sealed record Response(Guid AppointmentId, DateTimeOffset StartsAt, string DoctorName, string Status);
}
