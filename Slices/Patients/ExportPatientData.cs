using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Photos;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Patients;

/// <summary>
/// GET /api/patients/{id}/export: an admin answers a DSGVO Art. 15 access or Art. 20 portability
/// request with one JSON document of everything stored about the patient.
/// </summary>
/// <remarks>
/// Appointments, consent forms (as ciphertext), photo metadata with download links, treatment and
/// payment plans, waitlist entries with their offers, and the audit entries about them.
/// </remarks>
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

    private const string PhotosSql = """
        select id, mime_type, taken_at, category, body_region, consent_status, consent_form_id, size_bytes,
               encode(sha256, 'hex') as sha256, key_envelope, created_at
        from photos
        where clinic_id = @ClinicId and patient_id = @Id
        order by id
        """;

    private const string TreatmentPlansSql = """
        select id, title, status, notes, total_cents, accepted_at, completed_at, cancelled_at, retain_until, created_at, updated_at
        from treatment_plan_summaries
        where clinic_id = @ClinicId and patient_id = @Id
        order by id;

        select i.plan_id, i.description, i.code, i.tooth::int as tooth, i.quantity, i.unit_price_cents
        from treatment_plan_items i
        join treatment_plans t on t.clinic_id = i.clinic_id and t.id = i.plan_id
        where i.clinic_id = @ClinicId and t.patient_id = @Id
        order by i.plan_id, i.position;

        select pp.id, pp.treatment_plan_id, pp.total_cents, pp.paid_cents, pp.installments, pp.interval_days, pp.first_due_date, pp.created_at
        from payment_plans pp
        join treatment_plans t on t.clinic_id = pp.clinic_id and t.id = pp.treatment_plan_id
        where pp.clinic_id = @ClinicId and t.patient_id = @Id
        order by pp.id;

        select i.payment_plan_id, i.number, i.due_date, i.amount_cents, i.paid_cents
        from payment_installments i
        join payment_plans pp on pp.clinic_id = i.clinic_id and pp.id = i.payment_plan_id
        join treatment_plans t on t.clinic_id = pp.clinic_id and t.id = pp.treatment_plan_id
        where i.clinic_id = @ClinicId and t.patient_id = @Id
        order by i.payment_plan_id, i.number;

        select x.payment_plan_id, x.id, x.amount_cents, x.paid_at, x.method
        from payments x
        join payment_plans pp on pp.clinic_id = x.clinic_id and pp.id = x.payment_plan_id
        join treatment_plans t on t.clinic_id = pp.clinic_id and t.id = pp.treatment_plan_id
        where x.clinic_id = @ClinicId and t.patient_id = @Id
        order by x.payment_plan_id, x.paid_at, x.id;
        """;

    // The patient's waitlist entries, each with the offers made to it.
    private const string WaitlistSql = """
        select id, doctor_id, window_from, window_to, duration_minutes, note, status, created_at, updated_at
        from waitlist_entries
        where clinic_id = @ClinicId and patient_id = @Id
        order by id;

        select o.entry_id, o.id, o.doctor_id, o.starts_at, o.ends_at, o.status, o.expires_at, o.appointment_id, o.created_at
        from waitlist_offers o
        join waitlist_entries e on e.clinic_id = o.clinic_id and e.id = o.entry_id
        where o.clinic_id = @ClinicId and e.patient_id = @Id
        order by o.id;
        """;

    // Entries about the patient's records: photos (also deleted ones, which name the patient), plans, payment plans.
    private const string RecordsAuditSql = """
        select action, entity_type, entity_id, occurred_at, actor_id
        from audit_log
        where clinic_id = @ClinicId
          and ((entity_type = 'photo' and (entity_id = any(@Ids) or changes->>'patientId' = @PatientId))
               or (entity_type in ('treatment_plan', 'payment_plan') and entity_id = any(@Ids)))
        order by seq
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
        var records = await RecordsAsync(tenant, id, ct);
        var waitlist = await WaitlistAsync(tenant, id, ct);
        await tenant.AuditAsync("patient.data_export", "patient", id, null, ct);
        return TypedResults.Ok(new Response(clock.GetUtcNow(), clinic, patient, appointments.ToList(), trail.ToList())
        {
            ConsentForms = consentForms.ToList(),
            Photos = records.Photos,
            TreatmentPlans = records.Plans,
            PaymentPlans = records.PaymentPlans,
            RecordsAuditTrail = records.Trail,
            Waitlist = waitlist,
        });
    }

    private static async Task<List<WaitlistEntryData>> WaitlistAsync(Tenant tenant, Guid id, CancellationToken ct)
    {
        await using var results = await tenant.QueryMultipleAsync(WaitlistSql, new { tenant.ClinicId, Id = id }, ct);
        var entries = (await results.ReadAsync<WaitlistEntryData>()).ToList();
        var offers = (await results.ReadAsync<WaitlistOfferData>()).ToLookup(o => o.EntryId);
        return entries.Select(e => e with { Offers = offers[e.Id].ToList() }).ToList();
    }

    private static async Task<(List<PhotoData> Photos, List<TreatmentPlanData> Plans, List<PaymentPlanData> PaymentPlans,
        List<RecordAuditEntry> Trail)> RecordsAsync(Tenant tenant, Guid id, CancellationToken ct)
    {
        var photos = (await tenant.QueryAsync<PhotoData>(PhotosSql, new { tenant.ClinicId, Id = id }, ct))
            .Select(p => p with { DownloadUrl = PhotoRules.DownloadUrl(tenant.Http, p.Id) }).ToList();
        List<TreatmentPlanData> plans;
        List<PaymentPlanData> paymentPlans;
        ILookup<Guid, PlanItemData> items;
        ILookup<Guid, InstallmentData> installments;
        ILookup<Guid, PaymentData> payments;
        await using (var results = await tenant.QueryMultipleAsync(TreatmentPlansSql, new { tenant.ClinicId, Id = id }, ct))
        {
            plans = (await results.ReadAsync<TreatmentPlanData>()).ToList();
            items = (await results.ReadAsync<PlanItemData>()).ToLookup(i => i.PlanId);
            paymentPlans = (await results.ReadAsync<PaymentPlanData>()).ToList();
            installments = (await results.ReadAsync<InstallmentData>()).ToLookup(i => i.PaymentPlanId);
            payments = (await results.ReadAsync<PaymentData>()).ToLookup(p => p.PaymentPlanId);
        }

        plans = plans.Select(p => p with { Items = items[p.Id].ToList() }).ToList();
        paymentPlans = paymentPlans.Select(p => p with { Schedule = installments[p.Id].ToList(), Payments = payments[p.Id].ToList() }).ToList();
        var ids = photos.Select(p => p.Id).Concat(plans.Select(p => p.Id)).Concat(paymentPlans.Select(p => p.Id)).Select(i => i.ToString()).ToArray();
        var trail = (await tenant.QueryAsync<RecordAuditEntry>(RecordsAuditSql,
            new { tenant.ClinicId, Ids = ids, PatientId = id.ToString() }, ct)).ToList();
        return (photos, plans, paymentPlans, trail);
    }

    public sealed record Response(DateTimeOffset ExportedAt, ClinicRef Clinic, PatientData Patient,
        IReadOnlyList<AppointmentData> Appointments, IReadOnlyList<AuditEntry> AuditTrail)
    {
        /// <summary>The patient's consent forms with their envelopes as stored (ciphertext only the practice's key opens).</summary>
        public IReadOnlyList<ConsentFormData> ConsentForms { get; init; } = [];

        /// <summary>Metadata of the patient's encrypted photos, each with its download link.</summary>
        public IReadOnlyList<PhotoData> Photos { get; init; } = [];

        public IReadOnlyList<TreatmentPlanData> TreatmentPlans { get; init; } = [];

        public IReadOnlyList<PaymentPlanData> PaymentPlans { get; init; } = [];

        /// <summary>Audit entries about the photos, treatment plans and payment plans.</summary>
        public IReadOnlyList<RecordAuditEntry> RecordsAuditTrail { get; init; } = [];

        /// <summary>The patient's waitlist entries with the offers made to them.</summary>
        public IReadOnlyList<WaitlistEntryData> Waitlist { get; init; } = [];
    }

    public sealed record WaitlistEntryData(Guid Id, Guid? DoctorId, DateTimeOffset WindowFrom, DateTimeOffset WindowTo, int DurationMinutes,
        string? Note, string Status, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
    {
        public IReadOnlyList<WaitlistOfferData> Offers { get; init; } = [];
    }

    public sealed record WaitlistOfferData(Guid EntryId, Guid Id, Guid DoctorId, DateTimeOffset StartsAt, DateTimeOffset EndsAt, string Status,
        DateTimeOffset ExpiresAt, Guid? AppointmentId, DateTimeOffset CreatedAt);

    public sealed record ConsentFormData(Guid Id, string Type, string Title, string Body, string Kid, DateTimeOffset CreatedAt,
        DateTimeOffset ExpiresAt, DateTimeOffset? OpenedAt, DateTimeOffset? SubmittedAt, DateTimeOffset? SignedAt,
        DateTimeOffset? RevokedAt, string? EncryptedPayload, string? SubmitterIp, string? SubmitterUserAgent, DateTimeOffset? RetainUntil);

    public sealed record PhotoData(Guid Id, string MimeType, DateTimeOffset? TakenAt, string Category, string? BodyRegion, string ConsentStatus,
        Guid? ConsentFormId, long SizeBytes, string Sha256, string KeyEnvelope, DateTimeOffset CreatedAt)
    {
        public string DownloadUrl { get; init; } = "";
    }

    public sealed record TreatmentPlanData(Guid Id, string Title, string Status, string? Notes, long TotalCents, DateTimeOffset? AcceptedAt,
        DateTimeOffset? CompletedAt, DateTimeOffset? CancelledAt, DateTimeOffset RetainUntil, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
    {
        public IReadOnlyList<PlanItemData> Items { get; init; } = [];
    }

    public sealed record PlanItemData(Guid PlanId, string Description, string? Code, int? Tooth, int Quantity, long UnitPriceCents);

    public sealed record PaymentPlanData(Guid Id, Guid TreatmentPlanId, long TotalCents, long PaidCents, int Installments, int IntervalDays,
        DateOnly FirstDueDate, DateTimeOffset CreatedAt)
    {
        public IReadOnlyList<InstallmentData> Schedule { get; init; } = [];

        public IReadOnlyList<PaymentData> Payments { get; init; } = [];
    }

    public sealed record InstallmentData(Guid PaymentPlanId, int Number, DateOnly DueDate, long AmountCents, long PaidCents);

    public sealed record PaymentData(Guid PaymentPlanId, Guid Id, long AmountCents, DateTimeOffset PaidAt, string Method);

    public sealed record RecordAuditEntry(string Action, string EntityType, string? EntityId, DateTimeOffset OccurredAt, Guid? ActorId);

    public sealed record AppointmentData(Guid Id, DateTimeOffset StartsAt, DateTimeOffset EndsAt, string Status, string? Reason,
        string? Notes, string DoctorName, DateTimeOffset CreatedAt);

    public sealed record ClinicRef(Guid Id, string Name);

    public sealed record PatientData(Guid Id, string FullName, string? Phone, string? Email, string? BirthDate, string? Gender,
        string? DocumentId, string? Notes, bool Blocked, string? BlockedReason, DateTimeOffset? BlockedAt, string? LookupHash,
        string? EncryptedData, DateTimeOffset? RetainUntil, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

    public sealed record AuditEntry(string Action, DateTimeOffset OccurredAt, Guid? ActorId);
}
