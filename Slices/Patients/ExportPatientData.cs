using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Patients;

/// <summary>
/// GET /api/patients/{id}/export: an admin answers a DSGVO Art. 15 access or Art. 20 portability
/// request with one JSON document of everything stored about the patient.
/// </summary>
/// <remarks>Photo metadata and treatment plans join the document as those features land.</remarks>
public sealed class ExportPatientData : ICarterModule
{
    private const string PatientSql = """
        select p.id, p.full_name, p.phone, p.email::text as email, to_char(p.birth_date, 'YYYY-MM-DD') as birth_date,
               p.gender, p.document_id, p.notes, p.blocked, p.blocked_reason, p.blocked_at, p.lookup_hash,
               p.encrypted_data, p.retain_until, p.created_at, p.updated_at
        from patients p
        where p.clinic_id = @ClinicId and p.id = @Id and p.erased_at is null
        """;

    private const string ClinicSql = "select id, name from clinics where id = @ClinicId";

    private const string AppointmentsSql = """
        select id, starts_at, ends_at, status, reason, notes, doctor_name, created_at
        from appointment_details
        where clinic_id = @ClinicId and patient_id = @Id
        order by starts_at, id
        """;

    private const string AuditSql = """
        select action, occurred_at, actor_id
        from audit_log
        where clinic_id = @ClinicId and entity_type = 'patient' and entity_id = @EntityId
        order by seq
        """;

    // The consent forms with their envelopes as stored: ciphertext only the practice's key opens.
    private const string ConsentFormsSql = """
        select id, type, title, body, kid, created_at, expires_at, opened_at, submitted_at, signed_at, revoked_at,
               encrypted_payload, submitter_ip, submitter_user_agent, retain_until
        from consent_forms
        where clinic_id = @ClinicId and patient_id = @Id
        order by id
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/patients")
            .MapGet("/{id:guid}/export", Handle)
            .RequireAdmin()
            .WithName(nameof(ExportPatientData))
            .WithSummary("Everything stored about a patient as one JSON document (DSGVO Art. 15/20)");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(Guid id, Tenant tenant, TimeProvider clock, CancellationToken ct)
    {
        var patient = await tenant.QuerySingleOrDefaultAsync<PatientData>(PatientSql, new { tenant.ClinicId, Id = id }, ct);
        if (patient is null)
        {
            return ApiProblem.NotFound();
        }

        var clinic = await tenant.QuerySingleAsync<ClinicRef>(ClinicSql, new { tenant.ClinicId }, ct);
        var appointments = await tenant.QueryAsync<AppointmentData>(AppointmentsSql, new { tenant.ClinicId, Id = id }, ct);
        var trail = await tenant.QueryAsync<AuditEntry>(AuditSql, new { tenant.ClinicId, EntityId = id.ToString() }, ct);
        var consentForms = await tenant.QueryAsync<ConsentFormData>(ConsentFormsSql, new { tenant.ClinicId, Id = id }, ct);
        await tenant.AuditAsync("patient.data_export", "patient", id, null, ct);
        return TypedResults.Ok(new Response(clock.GetUtcNow(), clinic, patient, appointments.ToList(), trail.ToList(),
            consentForms.ToList()));
    }

    public sealed record Response(DateTimeOffset ExportedAt, ClinicRef Clinic, PatientData Patient,
        IReadOnlyList<AppointmentData> Appointments, IReadOnlyList<AuditEntry> AuditTrail, IReadOnlyList<ConsentFormData> ConsentForms);

    public sealed record ConsentFormData(Guid Id, string Type, string Title, string Body, string Kid, DateTimeOffset CreatedAt,
        DateTimeOffset ExpiresAt, DateTimeOffset? OpenedAt, DateTimeOffset? SubmittedAt, DateTimeOffset? SignedAt,
        DateTimeOffset? RevokedAt, string? EncryptedPayload, string? SubmitterIp, string? SubmitterUserAgent, DateTimeOffset? RetainUntil);

    public sealed record AppointmentData(Guid Id, DateTimeOffset StartsAt, DateTimeOffset EndsAt, string Status, string? Reason,
        string? Notes, string DoctorName, DateTimeOffset CreatedAt);

    public sealed record ClinicRef(Guid Id, string Name);

    public sealed record PatientData(Guid Id, string FullName, string? Phone, string? Email, string? BirthDate, string? Gender,
        string? DocumentId, string? Notes, bool Blocked, string? BlockedReason, DateTimeOffset? BlockedAt, string? LookupHash,
        string? EncryptedData, DateTimeOffset? RetainUntil, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

    public sealed record AuditEntry(string Action, DateTimeOffset OccurredAt, Guid? ActorId);
}
