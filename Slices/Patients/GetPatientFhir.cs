using System.Globalization;
using System.Text;
using System.Text.Json;
using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Consent;
using Dapper;
using Hl7.Fhir.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using R4 = Hl7.Fhir.Model;

namespace ClinicFlow.Slices.Patients;

/// <summary>
/// GET /api/patients/{id}/fhir: the patient's record as a FHIR R4 Bundle of type collection, for
/// another system to import: the Patient, a Practitioner per doctor of their appointments, every
/// Appointment, every consent form as a Consent (the stored JWE as its attachment) and every
/// treatment plan as a CarePlan. Resource ids are our UUIDs; each entry's fullUrl is
/// <c>urn:uuid:{id}</c> and every reference points at one, so all of them resolve inside the Bundle.
/// </summary>
/// <remarks>The mapping of our statuses to FHIR codes is docs/fhir.md.</remarks>
public sealed class GetPatientFhir : ICarterModule
{
    public const string MediaType = "application/fhir+json";

    // One round trip. The patient row decides: erased or another clinic's, nothing else is used.
    private const string Sql = $"""
        select p.id, p.full_name, p.phone, p.email::text as email, to_char(p.birth_date, 'YYYY-MM-DD') as birth_date,
               p.gender, p.document_id, p.updated_at, c.currency
        from patients p
        join clinics c on c.id = p.clinic_id
        where p.clinic_id = @ClinicId and p.id = @Id and p.erased_at is null;

        -- Each appointment with its doctor in one statement, so every Practitioner it names is there.
        select a.id, a.doctor_id, a.starts_at, a.ends_at, a.status, a.reason, a.notes, a.created_at, a.updated_at,
               d.full_name as doctor_name, d.active as doctor_active, d.updated_at as doctor_updated_at
        from appointments a
        join doctors d on d.clinic_id = a.clinic_id and d.id = a.doctor_id
        where a.clinic_id = @ClinicId and a.patient_id = @Id
        order by a.starts_at, a.id;

        select f.id, f.type, f.title, {ConsentRules.StatusSql} as status, f.created_at, f.submitted_at, f.signed_at,
               f.revoked_at, f.encrypted_payload
        from consent_forms f
        where f.clinic_id = @ClinicId and f.patient_id = @Id
        order by f.id;

        select t.id, t.title, t.status, t.notes, t.total_cents, t.accepted_at, t.completed_at, t.cancelled_at,
               t.created_at, t.updated_at
        from treatment_plan_summaries t
        where t.clinic_id = @ClinicId and t.patient_id = @Id
        order by t.id;

        select i.plan_id, i.description, i.code, i.tooth::int as tooth, i.quantity, i.unit_price_cents
        from treatment_plan_items i
        join treatment_plans t on t.clinic_id = i.clinic_id and t.id = i.plan_id
        where i.clinic_id = @ClinicId and t.patient_id = @Id
        order by i.plan_id, i.position;
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/patients")
            .MapGet("/{id:guid}/fhir", Handle)
            .RequireDoctorOrAdmin()
            .WithName(nameof(GetPatientFhir))
            .WithSummary("The patient's record as a FHIR R4 Bundle (collection)")
            .Produces<Response>(StatusCodes.Status200OK, MediaType);

    private static async Task<Results<FhirResult, ApiProblem>> Handle(Guid id, Tenant tenant, TimeProvider clock, CancellationToken ct)
    {
        PatientRow? patient;
        List<AppointmentRow> appointments;
        List<ConsentRow> consents;
        List<PlanRow> plans;
        ILookup<Guid, ItemRow> items;
        await using (var results = await tenant.QueryMultipleAsync(Sql, new { tenant.ClinicId, Id = id }, ct))
        {
            patient = await results.ReadSingleOrDefaultAsync<PatientRow>();
            appointments = (await results.ReadAsync<AppointmentRow>()).ToList();
            consents = (await results.ReadAsync<ConsentRow>()).ToList();
            plans = (await results.ReadAsync<PlanRow>()).ToList();
            items = (await results.ReadAsync<ItemRow>()).ToLookup(i => i.PlanId);
        }

        if (patient is null)
        {
            return ApiProblem.NotFound();
        }

        // A reference object per use: POCO elements are not shared between parents.
        R4.ResourceReference Subject() => Reference("Patient", patient.Id, patient.FullName);
        var resources = new List<R4.Resource> { ToPatient(patient) };
        resources.AddRange(appointments.DistinctBy(a => a.DoctorId).OrderBy(a => a.DoctorId).Select(ToPractitioner));
        resources.AddRange(appointments.Select(a => ToAppointment(a, Subject(), Reference("Practitioner", a.DoctorId, a.DoctorName))));
        resources.AddRange(consents.Select(c => ToConsent(c, Subject)));
        resources.AddRange(plans.Select(p => ToCarePlan(p, items[p.Id], patient.Currency, Subject())));

        var bundle = new R4.Bundle
        {
            Type = R4.Bundle.BundleType.Collection,
            TimestampElement = InstantOf(clock.GetUtcNow()),
            Entry = resources.Select(r => new R4.Bundle.EntryComponent { FullUrl = "urn:uuid:" + r.Id, Resource = r }).ToList(),
        };
        await tenant.AuditAsync("patient.fhir_export", "patient", id, null, ct);
        return new FhirResult(bundle);
    }

    private static R4.Patient ToPatient(PatientRow p)
    {
        var patient = new R4.Patient
        {
            Id = p.Id.ToString(),
            Meta = new R4.Meta { LastUpdatedElement = InstantOf(p.UpdatedAt) },
            Active = true,
            Name = [new R4.HumanName { Text = p.FullName }],
            Gender = p.Gender switch
            {
                "female" => R4.AdministrativeGender.Female,
                "male" => R4.AdministrativeGender.Male,
                "other" => R4.AdministrativeGender.Other,
                "unknown" => R4.AdministrativeGender.Unknown,
                _ => null,
            },
            BirthDate = p.BirthDate,
        };
        if (p.DocumentId is not null)
        {
            // What kind of document the clinic recorded (national id, passport, insurance number) is not known.
            patient.Identifier.Add(new R4.Identifier { Type = new R4.CodeableConcept { Text = "Document ID" }, Value = p.DocumentId });
        }

        if (p.Phone is not null)
        {
            patient.Telecom.Add(new R4.ContactPoint(R4.ContactPoint.ContactPointSystem.Phone, null, p.Phone));
        }

        if (p.Email is not null)
        {
            patient.Telecom.Add(new R4.ContactPoint(R4.ContactPoint.ContactPointSystem.Email, null, p.Email));
        }

        return patient;
    }

    private static R4.Practitioner ToPractitioner(AppointmentRow a) => new()
    {
        Id = a.DoctorId.ToString(),
        Meta = new R4.Meta { LastUpdatedElement = InstantOf(a.DoctorUpdatedAt) },
        Active = a.DoctorActive,
        Name = [new R4.HumanName { Text = a.DoctorName }],
    };

    private static R4.Appointment ToAppointment(AppointmentRow a, R4.ResourceReference patient, R4.ResourceReference doctor)
    {
        var appointment = new R4.Appointment
        {
            Id = a.Id.ToString(),
            Meta = new R4.Meta { LastUpdatedElement = InstantOf(a.UpdatedAt) },
            Status = AppointmentStatus(a.Status),
            StartElement = InstantOf(a.StartsAt),
            EndElement = InstantOf(a.EndsAt),
            CreatedElement = DateTimeOf(a.CreatedAt),
            Comment = a.Notes,
            Participant =
            [
                // A scheduled appointment holds its slot but the patient has not confirmed it yet.
                new() { Actor = patient, Status = a.Status == "scheduled" ? R4.ParticipationStatus.NeedsAction : R4.ParticipationStatus.Accepted },
                new() { Actor = doctor, Status = R4.ParticipationStatus.Accepted },
            ],
        };
        if (a.Reason is not null)
        {
            appointment.ReasonCode.Add(new R4.CodeableConcept { Text = a.Reason });
        }

        return appointment;
    }

    /// <summary>Our appointment statuses as FHIR R4 appointmentstatus codes (docs/fhir.md).</summary>
    private static R4.Appointment.AppointmentStatus AppointmentStatus(string status) => status switch
    {
        "scheduled" or "confirmed" => R4.Appointment.AppointmentStatus.Booked,
        "checked_in" => R4.Appointment.AppointmentStatus.CheckedIn,
        "completed" => R4.Appointment.AppointmentStatus.Fulfilled,
        "cancelled" => R4.Appointment.AppointmentStatus.Cancelled,
        "no_show" => R4.Appointment.AppointmentStatus.Noshow,
        _ => throw new InvalidOperationException($"Unknown appointment status '{status}'."),
    };

    private static R4.Consent ToConsent(ConsentRow f, Func<R4.ResourceReference> patient)
    {
        var consent = new R4.Consent
        {
            Id = f.Id.ToString(),
            Status = ConsentState(f.Status),
            Scope = new R4.CodeableConcept("http://terminology.hl7.org/CodeSystem/consentscope", ConsentScope(f.Type)),
            // The form's own type (treatment, photo, data_processing, …) stays readable as the category's text.
            Category = [new R4.CodeableConcept("http://loinc.org", "59284-0", "Patient Consent", f.Type)],
            Patient = patient(),
            Performer = [patient()],
            DateTimeElement = DateTimeOf(f.SubmittedAt ?? f.CreatedAt),
            // The patient agrees by submitting the form: an opt-in (ppc-1 asks for a policy or a rule).
            PolicyRule = new R4.CodeableConcept("http://terminology.hl7.org/CodeSystem/v3-ActCode", "OPTIN", "opt-in", null),
        };
        if (f.EncryptedPayload is not null)
        {
            // The answers exactly as stored: a JWE compact serialization only the practice's key opens.
            consent.Source = new R4.Attachment
            {
                ContentType = "application/jose",
                Data = Encoding.ASCII.GetBytes(f.EncryptedPayload),
                Title = f.Title,
                CreationElement = f.SignedAt is { } signed ? DateTimeOf(signed) : null,
            };
        }

        if (f.SubmittedAt is { } submitted)
        {
            consent.Provision = new R4.Consent.provisionComponent
            {
                Period = new R4.Period { StartElement = DateTimeOf(submitted), EndElement = f.RevokedAt is { } revoked ? DateTimeOf(revoked) : null },
            };
        }

        return consent;
    }

    /// <summary>Our consent form statuses as FHIR R4 consent-state-codes (docs/fhir.md).</summary>
    private static R4.Consent.ConsentState ConsentState(string status) => status switch
    {
        ConsentRules.Pending => R4.Consent.ConsentState.Proposed,
        ConsentRules.Submitted => R4.Consent.ConsentState.Active,
        ConsentRules.Revoked => R4.Consent.ConsentState.Inactive,
        // The patient let the offer lapse without agreeing; it can no longer be agreed to.
        ConsentRules.Expired => R4.Consent.ConsentState.Rejected,
        _ => throw new InvalidOperationException($"Unknown consent status '{status}'."),
    };

    /// <summary>A form's type as a consentscope code: photos and data processing are privacy consents.</summary>
    private static string ConsentScope(string type) => type switch
    {
        "photo" or "data_processing" => "patient-privacy",
        "research" => "research",
        _ => "treatment",
    };

    private static R4.CarePlan ToCarePlan(PlanRow p, IEnumerable<ItemRow> items, string currency, R4.ResourceReference patient)
    {
        var plan = new R4.CarePlan
        {
            Id = p.Id.ToString(),
            Meta = new R4.Meta { LastUpdatedElement = InstantOf(p.UpdatedAt) },
            Status = CarePlanStatus(p.Status),
            Intent = R4.CarePlan.CarePlanIntent.Plan,
            Title = p.Title,
            Subject = patient,
            CreatedElement = DateTimeOf(p.CreatedAt),
        };
        if (p.AcceptedAt is not null || p.CompletedAt is not null || p.CancelledAt is not null)
        {
            var ended = p.CompletedAt ?? p.CancelledAt;
            plan.Period = new R4.Period
            {
                StartElement = p.AcceptedAt is { } accepted ? DateTimeOf(accepted) : null,
                EndElement = ended is { } end ? DateTimeOf(end) : null,
            };
        }

        if (p.Notes is not null)
        {
            plan.Note.Add(new R4.Annotation { Text = p.Notes });
        }

        plan.Note.Add(new R4.Annotation { Text = $"Estimated total: {Money(p.TotalCents, currency)}" });
        var activity = ActivityStatus(p.Status);
        foreach (var item in items)
        {
            plan.Activity.Add(new R4.CarePlan.ActivityComponent
            {
                Detail = new R4.CarePlan.DetailComponent
                {
                    Status = activity,
                    // The clinic's own fee code; which catalogue it comes from is not recorded.
                    Code = new R4.CodeableConcept { Coding = item.Code is null ? [] : [new R4.Coding(null, item.Code)], Text = item.Description },
                    Description = item.Tooth is { } tooth ? $"Tooth {tooth} (FDI); {Money(item.UnitPriceCents, currency)} each" : $"{Money(item.UnitPriceCents, currency)} each",
                    Quantity = new R4.Quantity { Value = item.Quantity },
                },
            });
        }

        return plan;
    }

    /// <summary>Our treatment plan statuses as FHIR R4 request-status codes (docs/fhir.md).</summary>
    private static R4.RequestStatus CarePlanStatus(string status) => status switch
    {
        "draft" or "proposed" => R4.RequestStatus.Draft,
        "accepted" or "in_progress" => R4.RequestStatus.Active,
        "completed" => R4.RequestStatus.Completed,
        "cancelled" => R4.RequestStatus.Revoked,
        _ => throw new InvalidOperationException($"Unknown treatment plan status '{status}'."),
    };

    private static R4.CarePlan.CarePlanActivityStatus ActivityStatus(string status) => status switch
    {
        "in_progress" => R4.CarePlan.CarePlanActivityStatus.InProgress,
        "completed" => R4.CarePlan.CarePlanActivityStatus.Completed,
        "cancelled" => R4.CarePlan.CarePlanActivityStatus.Cancelled,
        _ => R4.CarePlan.CarePlanActivityStatus.NotStarted,
    };

    private static R4.ResourceReference Reference(string type, Guid id, string display) =>
        new("urn:uuid:" + id, display) { Type = type };

    // Instants in UTC with Z, as everywhere else in the API (the SDK would write +00:00).
    private static R4.Instant InstantOf(DateTimeOffset value) => new() { JsonValue = Utc(value) };

    private static R4.FhirDateTime DateTimeOf(DateTimeOffset value) => new(Utc(value));

    private static string Utc(DateTimeOffset value) =>
        value.UtcDateTime.ToString("yyyy'-'MM'-'dd'T'HH':'mm':'ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);

    // ISO 4217 minor units: most currencies have two decimals; these have none or three.
    private static readonly HashSet<string> NoDecimals = ["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"];
    private static readonly HashSet<string> ThreeDecimals = ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];

    /// <summary>An amount in minor units as text: 12345 EUR cents → "123.45 EUR".</summary>
    private static string Money(long minor, string currency)
    {
        var decimals = NoDecimals.Contains(currency) ? 0 : ThreeDecimals.Contains(currency) ? 3 : 2;
        var major = minor / (decimal)Math.Pow(10, decimals);
        return major.ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture) + " " + currency;
    }

    private sealed record PatientRow(Guid Id, string FullName, string? Phone, string? Email, string? BirthDate, string? Gender,
        string? DocumentId, DateTimeOffset UpdatedAt, string Currency);

    private sealed record AppointmentRow(Guid Id, Guid DoctorId, DateTimeOffset StartsAt, DateTimeOffset EndsAt, string Status,
        string? Reason, string? Notes, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, string DoctorName, bool DoctorActive,
        DateTimeOffset DoctorUpdatedAt);

    private sealed record ConsentRow(Guid Id, string Type, string Title, string Status, DateTimeOffset CreatedAt,
        DateTimeOffset? SubmittedAt, DateTimeOffset? SignedAt, DateTimeOffset? RevokedAt, string? EncryptedPayload);

    private sealed record PlanRow(Guid Id, string Title, string Status, string? Notes, long TotalCents, DateTimeOffset? AcceptedAt,
        DateTimeOffset? CompletedAt, DateTimeOffset? CancelledAt, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

    private sealed record ItemRow(Guid PlanId, string Description, string? Code, int? Tooth, int Quantity, long UnitPriceCents);

    /// <summary>
    /// Writes a FHIR resource as <c>application/fhir+json</c> with the SDK's serializer, straight into
    /// the response's buffer. Health data: never kept by a cache.
    /// </summary>
    public sealed class FhirResult(R4.Resource resource) : IResult, IStatusCodeHttpResult, IContentTypeHttpResult
    {
        public int? StatusCode => StatusCodes.Status200OK;

        public string ContentType => MediaType + "; charset=utf-8";

        public async Task ExecuteAsync(HttpContext httpContext)
        {
            ArgumentNullException.ThrowIfNull(httpContext);
            var response = httpContext.Response;
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = ContentType;
            response.Headers.CacheControl = "no-store";
            // Writing to the pipe's buffer is not I/O; the flush below sends it.
            await using (var writer = new Utf8JsonWriter(response.BodyWriter))
            {
                FhirJsonSerializer.Default.Serialize(resource, writer);
            }

            await response.BodyWriter.FlushAsync(httpContext.RequestAborted);
        }
    }

    /// <summary>The answer's outline for the OpenAPI document: a FHIR R4 Bundle of type collection (hl7.org/fhir/R4/bundle.html).</summary>
    public sealed record Response(string ResourceType, string Type, DateTimeOffset Timestamp, IReadOnlyList<ResponseEntry> Entry);

    /// <summary>An entry: <c>fullUrl</c> is <c>urn:uuid:{id}</c>, the resource a Patient, Practitioner, Appointment, Consent or CarePlan.</summary>
    public sealed record ResponseEntry(string FullUrl, ResponseResource Resource);

    /// <summary>A FHIR R4 resource; its other elements are those of its resourceType in the FHIR specification.</summary>
    public sealed record ResponseResource(string ResourceType, string Id);
}
