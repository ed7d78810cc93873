using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Appointments;
using ClinicFlow.Slices.Photos;
using ClinicFlow.Slices.TreatmentPlans;
using ClinicFlow.Slices.Waitlist;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Patients;

/// <summary>
/// DELETE /api/patients/{id}: an admin erases a patient (DSGVO Art. 17) in one transaction. The row
/// stays as a tombstone without personal data, so records that point at it stay valid; from then on
/// every normal read treats the patient as gone. Their appointments are anonymised, never deleted.
/// </summary>
public sealed class ErasePatient : ICarterModule
{
    public const string ErasedName = "Erased patient";

    // retain_until starts null; the features whose records fall under the retention duty (§ 630f BGB)
    // raise it to the end of their 10-year retention below and keep those records locked and
    // minimised until the purge job (Infrastructure/Retention.cs) removes them.
    private const string Sql = """
        update patients
        set full_name = @ErasedName, phone = null, email = null, birth_date = null, gender = null,
            document_id = null, notes = null, blocked = false, blocked_reason = null, blocked_at = null,
            lookup_hash = null, encrypted_data = null, erased_at = now(), retain_until = null, updated_at = now()
        where clinic_id = @ClinicId and id = @Id and erased_at is null
        returning id
        """;

    // The slots stay (a doctor's day keeps its shape and the no-show history its numbers) but say
    // nothing about the person: free text goes, and bookings still ahead are cancelled, which frees
    // them and tells subscribed calendars to drop them (SEQUENCE grows).
    private const string AppointmentsSql = """
        update appointments
        set reason = null, notes = null, updated_at = now(), sequence = sequence + 1,
            status = case when status in ('scheduled', 'confirmed') and starts_at > now() then 'cancelled' else status end,
            status_changed_at = case when status in ('scheduled', 'confirmed') and starts_at > now() then now()
                                     else status_changed_at end
        where clinic_id = @ClinicId and patient_id = @Id
        """;


    // The bookings still ahead that the anonymisation below cancels: their slots go to the waiting list.
    private const string AheadSql = """
        select doctor_id, starts_at, ends_at
        from appointments
        where clinic_id = @ClinicId and patient_id = @Id and status in ('scheduled', 'confirmed') and starts_at > now()
        """;

    private sealed record Freed(Guid DoctorId, DateTimeOffset StartsAt, DateTimeOffset EndsAt);

    // Consent forms: open ones go; submitted ones are signed records under the retention duty, kept
    // locked (no link, out of every list) and minimised (the user agent goes) until their
    // retain_until, and the tombstone is kept at least as long (the retention job purges both).
    private const string ConsentFormsSql = """
        with removed as (
            delete from consent_forms where clinic_id = @ClinicId and patient_id = @Id and submitted_at is null
        ), locked as (
            update consent_forms
               set locked_at = now(), token_hash = null, token_sealed = null, submitter_user_agent = null
             where clinic_id = @ClinicId and patient_id = @Id and submitted_at is not null
            returning retain_until
        )
        update patients set retain_until = greatest(retain_until, (select max(retain_until) from locked))
        where clinic_id = @ClinicId and id = @Id
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/patients")
            .MapDelete("/{id:guid}", Handle)
            .RequireAdmin()
            .WithName(nameof(ErasePatient))
            .WithSummary("Erase a patient (DSGVO Art. 17): personal data goes, a tombstone and the audit entry remain");

    private static async Task<Results<NoContent, ApiProblem>> Handle(Guid id, Tenant tenant, TimeProvider clock, CancellationToken ct)
    {
        var erased = await tenant.QuerySingleOrDefaultAsync<Guid?>(Sql, new { tenant.ClinicId, Id = id, ErasedName }, ct);
        if (erased is null)
        {
            return ApiProblem.NotFound();
        }

        // The patient leaves the waiting list first, so the slots freed below are never offered back to them.
        await WaitlistMachine.EraseForPatientAsync(tenant, tenant.ClinicId, id, ct);
        var freed = (await tenant.QueryAsync<Freed>(AheadSql, new { tenant.ClinicId, Id = id }, ct)).ToList();
        var appointments = await tenant.ExecuteAsync(AppointmentsSql, new { tenant.ClinicId, Id = id }, ct);
        await tenant.ExecuteAsync(ConsentFormsSql, new { tenant.ClinicId, Id = id }, ct);

        // Queued messages to the patient are cancelled, and no message row keeps their number or text.
        await AppointmentReminders.EraseForPatientAsync(tenant, tenant.ClinicId, id, ct);
        await PhotoRules.EraseForPatientAsync(tenant, tenant.ClinicId, id, ct);
        await TreatmentPlanRules.RetainForErasedPatientAsync(tenant, tenant.ClinicId, id, ct);

        // Only the id and a count: the entry must not bring back what was erased.
        await tenant.AuditAsync("patient.erase", "patient", id, new { appointmentsAnonymised = appointments }, ct);
        foreach (var slot in freed)
        {
            await WaitlistMachine.ReleaseAsync(tenant, tenant.ClinicId, slot.DoctorId, slot.StartsAt, slot.EndsAt, "patient.erase",
                clock.GetUtcNow(), ct);
        }

        return TypedResults.NoContent();
    }
}
