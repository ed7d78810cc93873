using System.Net;
using System.Text;
using System.Text.Json;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Patients;
using ClinicFlow.Tests.Consent;
using ClinicFlow.Tests.Support;
using Firely.Fhir.Validation;
using Hl7.Fhir.Serialization;
using Hl7.Fhir.Specification.Source;
using Hl7.Fhir.Specification.Terminology;
using Hl7.Fhir.Validation;
using R4 = Hl7.Fhir.Model;

namespace ClinicFlow.Tests.Patients;

/// <summary>GET /api/patients/{id}/fhir (<see cref="GetPatientFhir"/>).</summary>
public sealed class GetPatientFhirTests(AppFixture app) : ClinicalTest(app)
{
    /// <summary>
    /// Firely's profile validator over the FHIR R4 core definitions (the specification.zip of the SDK's
    /// data package): structure, cardinality, bindings and the FHIRPath invariants of every resource.
    /// Building it reads the whole specification, so the run builds it once.
    /// </summary>
    private static readonly Lazy<Validator> CoreValidator = new(() =>
    {
        var definitions = new CachedResolver(ZipSource.CreateValidationSource());
        return new Validator(definitions, new LocalTerminologyService(definitions), null, new ValidationSettings());
    });

    [Fact]
    public async Task Exports_a_bundle_valid_against_the_R4_specification_whose_references_all_resolve()
    {
        using var key = PracticeKey.NewEc();
        var record = await ArrangeRecordAsync(key);

        var result = await FhirAsync(record.Doctor, record.PatientId, HttpStatusCode.OK);

        Assert.StartsWith("application/fhir+json", result.Context.Response.ContentType, StringComparison.Ordinal);
        Assert.Equal("no-store", result.Context.Response.Headers.CacheControl.ToString());
        var text = await result.ReadAsTextAsync();
        // Strict parsing runs the SDK's POCO validation too: it throws on any structural problem.
        var bundle = FhirJsonDeserializer.STRICT.Deserialize<R4.Bundle>(text);
        Assert.Empty(bundle.Validate());
        var outcome = CoreValidator.Value.Validate(bundle, null);
        // The one thing the local terminology service cannot check: media types (urn:ietf:bcp:13) are a
        // grammar, not an enumerable code system, so application/jose is reported as not verifiable.
        var problems = outcome.Issue
            .Where(i => i.Severity is R4.OperationOutcome.IssueSeverity.Fatal or R4.OperationOutcome.IssueSeverity.Error
                or R4.OperationOutcome.IssueSeverity.Warning)
            .Where(i => !(i.Details?.Text ?? "").Contains("urn:ietf:bcp:13", StringComparison.Ordinal))
            .Select(i => $"{i.Severity} {string.Join(",", i.Location)}: {i.Details?.Text}")
            .ToList();
        Assert.Empty(problems);
        Assert.True(outcome.Success);

        Assert.Equal(R4.Bundle.BundleType.Collection, bundle.Type);
        Assert.Equal(["Patient", "Practitioner", "Practitioner", .. Enumerable.Repeat("Appointment", 7),
            .. Enumerable.Repeat("Consent", 4), .. Enumerable.Repeat("CarePlan", 3)], bundle.Entry.Select(e => e.Resource!.TypeName));
        Assert.All(bundle.Entry, e => Assert.Equal("urn:uuid:" + e.Resource!.Id, e.FullUrl));
        Assert.Equal(bundle.Entry.Count, bundle.Entry.Select(e => e.Resource!.Id).Distinct().Count());

        // Every reference anywhere in the document names an entry of the bundle, of the type it says.
        var types = bundle.Entry.ToDictionary(e => e.FullUrl!, e => e.Resource!.TypeName);
        var references = References(JsonDocument.Parse(text).RootElement).ToList();
        Assert.Equal(7 * 2 + (4 * 2) + 3, references.Count);
        Assert.All(references, r => Assert.Equal(r.Type, types.GetValueOrDefault(r.Reference)));

        var audit = await LastAuditAsync(record.Admin.ClinicId!.Value, "patient.fhir_export");
        Assert.Equal(record.PatientId.ToString(), audit!.EntityId);
        Assert.Equal(record.Doctor.UserId, audit.ActorId);
    }

    [Fact]
    public async Task Maps_the_patient_the_doctors_seen_and_every_appointment()
    {
        using var key = PracticeKey.NewEc();
        var record = await ArrangeRecordAsync(key);

        var bundle = await BundleAsync(record.Admin, record.PatientId);

        var patient = Assert.IsType<R4.Patient>(bundle.Entry[0].Resource);
        Assert.Equal(record.PatientId.ToString(), patient.Id);
        Assert.Equal("Jürgen Müller-Lüdenscheidt", Assert.Single(patient.Name).Text);
        Assert.Equal("1970-02-03", patient.BirthDate);
        Assert.Equal(R4.AdministrativeGender.Male, patient.Gender);
        Assert.True(patient.Active);
        Assert.Equal([(R4.ContactPoint.ContactPointSystem.Phone, "+4915123456789"), (R4.ContactPoint.ContactPointSystem.Email, "juergen@example.com")],
            patient.Telecom.Select(t => (t.System!.Value, t.Value)));
        Assert.Equal("X1234567", Assert.Single(patient.Identifier).Value);

        // The doctor who only saw another patient is not part of this record.
        var doctors = bundle.Entry.Select(e => e.Resource).OfType<R4.Practitioner>().ToList();
        Assert.Equal(new[] { record.DoctorA, record.DoctorB }.Order().Select(d => d.ToString()), doctors.Select(d => d.Id));
        Assert.Equal("Dr. Anna Berg", doctors.Single(d => d.Id == record.DoctorA.ToString()).Name[0].Text);

        var appointments = Resources<R4.Appointment>(bundle);
        Assert.Equal(record.Appointments.Values.Select(a => a.Id.ToString()).Order(), appointments.Keys.Order());
        var expected = new Dictionary<string, R4.Appointment.AppointmentStatus>
        {
            ["scheduled"] = R4.Appointment.AppointmentStatus.Booked,
            ["confirmed"] = R4.Appointment.AppointmentStatus.Booked,
            ["checked_in"] = R4.Appointment.AppointmentStatus.CheckedIn,
            ["completed"] = R4.Appointment.AppointmentStatus.Fulfilled,
            ["cancelled"] = R4.Appointment.AppointmentStatus.Cancelled,
            ["no_show"] = R4.Appointment.AppointmentStatus.Noshow,
            ["second_doctor"] = R4.Appointment.AppointmentStatus.Fulfilled,
        };
        foreach (var (name, arranged) in record.Appointments)
        {
            var appointment = appointments[arranged.Id.ToString()];
            Assert.Equal(expected[name], appointment.Status);
            Assert.Equal(arranged.StartsAt, appointment.Start);
            Assert.Equal(arranged.StartsAt.AddMinutes(30), appointment.End);
            Assert.EndsWith("Z", appointment.StartElement!.JsonValue as string, StringComparison.Ordinal);
            var patientParticipant = appointment.Participant[0];
            Assert.Equal(("urn:uuid:" + record.PatientId, "Patient"), (patientParticipant.Actor!.Reference, patientParticipant.Actor.Type));
            Assert.Equal(name == "scheduled" ? R4.ParticipationStatus.NeedsAction : R4.ParticipationStatus.Accepted, patientParticipant.Status);
            var doctor = name == "second_doctor" ? record.DoctorB : record.DoctorA;
            Assert.Equal(("urn:uuid:" + doctor, "Practitioner"), (appointment.Participant[1].Actor!.Reference, appointment.Participant[1].Actor!.Type));
        }

        Assert.Equal("Kontrolle", Assert.Single(appointments[record.Appointments["completed"].Id.ToString()].ReasonCode).Text);
    }

    [Fact]
    public async Task Carries_every_consent_form_with_its_ciphertext_and_every_plan_as_a_care_plan()
    {
        using var key = PracticeKey.NewEc();
        var record = await ArrangeRecordAsync(key);

        var bundle = await BundleAsync(record.Admin, record.PatientId);

        var consents = Resources<R4.Consent>(bundle);
        Assert.Equal(new[] { record.Submitted, record.Pending, record.Revoked, record.Expired }.Select(i => i.ToString()).Order(), consents.Keys.Order());
        Assert.Equal(
            [R4.Consent.ConsentState.Active, R4.Consent.ConsentState.Proposed, R4.Consent.ConsentState.Inactive, R4.Consent.ConsentState.Rejected],
            new[] { record.Submitted, record.Pending, record.Revoked, record.Expired }.Select(i => consents[i.ToString()].Status));
        Assert.All(consents.Values, c =>
        {
            Assert.Equal("urn:uuid:" + record.PatientId, c.Patient!.Reference);
            Assert.Equal(("http://loinc.org", "59284-0"), (c.Category[0].Coding[0].System, c.Category[0].Coding[0].Code));
            Assert.Equal("http://terminology.hl7.org/CodeSystem/consentscope", c.Scope!.Coding[0].System);
        });

        var submitted = consents[record.Submitted.ToString()];
        Assert.Equal(("treatment", "treatment"), (submitted.Scope!.Coding[0].Code, submitted.Category[0].Text));
        Assert.Equal("patient-privacy", consents[record.Pending.ToString()].Scope!.Coding[0].Code);
        var attachment = Assert.IsType<R4.Attachment>(submitted.Source);
        Assert.Equal("application/jose", attachment.ContentType);
        var stored = await App.ScalarAsync<string>("select encrypted_payload from consent_forms where id = @Id", new { Id = record.Submitted });
        Assert.Equal(Encoding.ASCII.GetBytes(stored), attachment.Data);
        Assert.Equal(record.Answers, key.Decrypt(Encoding.ASCII.GetString(attachment.Data!)));
        Assert.Null(submitted.Provision!.Period!.End);
        // Revoked after it was submitted: the ciphertext stays, the period ends with the revocation.
        var revoked = consents[record.Revoked.ToString()];
        Assert.IsType<R4.Attachment>(revoked.Source);
        Assert.NotNull(revoked.Provision!.Period!.End);
        Assert.Null(consents[record.Pending.ToString()].Source);
        Assert.Null(consents[record.Expired.ToString()].Source);

        var plans = Resources<R4.CarePlan>(bundle);
        Assert.All(plans.Values, p =>
        {
            Assert.Equal(R4.CarePlan.CarePlanIntent.Plan, p.Intent);
            Assert.Equal("urn:uuid:" + record.PatientId, p.Subject!.Reference);
        });
        var accepted = plans[record.AcceptedPlan.ToString()];
        Assert.Equal((R4.RequestStatus.Active, "Füllungstherapie"), (accepted.Status, accepted.Title));
        Assert.Equal(["Filling", "Cleaning"], accepted.Activity.Select(a => a.Detail!.Code!.Text));
        Assert.Equal(["F1"], accepted.Activity[0].Detail!.Code!.Coding.Select(c => c.Code));
        Assert.Equal([2m, 1m], accepted.Activity.Select(a => a.Detail!.Quantity!.Value!.Value));
        Assert.All(accepted.Activity, a => Assert.Equal(R4.CarePlan.CarePlanActivityStatus.NotStarted, a.Detail!.Status));
        Assert.Equal("Tooth 36 (FDI); 125.00 EUR each", accepted.Activity[0].Detail!.Description);
        Assert.Equal(["Note", "Estimated total: 330.00 EUR"], accepted.Note.Select(n => n.Text));
        Assert.NotNull(accepted.Period!.Start);
        var draft = plans[record.DraftPlan.ToString()];
        Assert.Equal(R4.RequestStatus.Draft, draft.Status);
        Assert.Empty(draft.Activity);
        Assert.Equal(R4.RequestStatus.Revoked, plans[record.CancelledPlan.ToString()].Status);
    }

    [Fact]
    public async Task A_patient_without_records_is_a_bundle_of_the_patient_alone()
    {
        var admin = await RegisterClinicAsync();
        var patient = await Host.AddPatientAsync(admin, new { fullName = "Ana Pérez" });

        var bundle = await BundleAsync(admin, patient.Id);

        var entry = Assert.Single(bundle.Entry);
        var resource = Assert.IsType<R4.Patient>(entry.Resource);
        Assert.Equal("Ana Pérez", resource.Name[0].Text);
        Assert.Null(resource.Gender);
        Assert.Empty(resource.Telecom);
        Assert.Empty(resource.Identifier);
        Assert.Empty(bundle.Validate());
    }

    [Fact]
    public async Task Another_clinics_patient_is_not_found_and_nothing_is_audited()
    {
        var admin = await RegisterClinicAsync();
        var stranger = await RegisterClinicAsync();
        var id = await App.InsertFullPatientAsync(stranger.ClinicId);

        var result = await FhirAsync(admin, id, HttpStatusCode.NotFound);

        await ErrorAsync(result, ErrorCodes.NotFound);
        Assert.DoesNotContain("Marta", await result.ReadAsTextAsync(), StringComparison.Ordinal);
        Assert.Null(await LastAuditAsync(admin.ClinicId!.Value, "patient.fhir_export"));
    }

    [Fact]
    public async Task An_erased_patient_is_not_found()
    {
        var admin = await RegisterClinicAsync();
        var id = await App.InsertFullPatientAsync(admin.ClinicId);
        await Host.Scenario(s =>
        {
            s.Delete.Url($"/api/patients/{id}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NoContent);
        });

        await ErrorAsync(await FhirAsync(admin, id, HttpStatusCode.NotFound), ErrorCodes.NotFound);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s =>
        {
            s.Get.Url($"/api/patients/{Guid.NewGuid()}/fhir");
        });
    }

    [Fact]
    public async Task Refuses_reception_staff()
    {
        await AssertRefusedForRoleAsync("staff", s => s.Get.Url($"/api/patients/{Guid.NewGuid()}/fhir"));
    }

    private Task<IScenarioResult> FhirAsync(Account caller, Guid patientId, HttpStatusCode status) =>
        Host.Scenario(s =>
        {
            s.Get.Url($"/api/patients/{patientId}/fhir");
            s.WithBearerToken(caller.Token);
            s.StatusCodeShouldBe(status);
        });

    private async Task<R4.Bundle> BundleAsync(Account caller, Guid patientId)
    {
        var result = await FhirAsync(caller, patientId, HttpStatusCode.OK);
        return FhirJsonDeserializer.STRICT.Deserialize<R4.Bundle>(await result.ReadAsTextAsync());
    }

    private static Dictionary<string, T> Resources<T>(R4.Bundle bundle) where T : R4.Resource =>
        bundle.Entry.Select(e => e.Resource).OfType<T>().ToDictionary(r => r.Id!);

    private static IEnumerable<(string Reference, string? Type)> References(JsonElement element)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            if (element.TryGetProperty("reference", out var reference))
            {
                yield return (reference.GetString()!, element.TryGetProperty("type", out var type) ? type.GetString() : null);
            }

            foreach (var found in element.EnumerateObject().SelectMany(p => References(p.Value)))
            {
                yield return found;
            }
        }
        else if (element.ValueKind == JsonValueKind.Array)
        {
            foreach (var found in element.EnumerateArray().SelectMany(References))
            {
                yield return found;
            }
        }
    }

    private sealed record Arranged(Guid Id, DateTimeOffset StartsAt);

    private sealed record PatientRecord(Account Admin, Account Doctor, Guid PatientId, Guid DoctorA, Guid DoctorB,
        Dictionary<string, Arranged> Appointments, Guid Submitted, Guid Pending, Guid Revoked, Guid Expired, string Answers,
        Guid AcceptedPlan, Guid DraftPlan, Guid CancelledPlan);

    /// <summary>
    /// A German practice's patient with appointments in every status with two doctors, four consent
    /// forms (submitted, pending, revoked after submission, expired) and three plans; beside them a
    /// second patient with a doctor, an appointment and a form of their own that must not appear.
    /// </summary>
    private async Task<PatientRecord> ArrangeRecordAsync(PracticeKey key)
    {
        var admin = await RegisterClinicAsync("Praxis Dr. Berg", "DE");
        var doctor = await AddUserAsync(admin, "doctor");
        await Host.PublishKeyAsync(admin, key);
        var patient = await Host.AddPatientAsync(admin, new
        {
            fullName = "Jürgen Müller-Lüdenscheidt",
            phone = "+4915123456789",
            email = "juergen@example.com",
            birthDate = "1970-02-03",
            gender = "male",
            documentId = "X1234567",
        });
        var other = await Host.AddPatientAsync(admin, new { fullName = "Someone Else" });
        var doctorA = await InsertDoctorAsync(admin.ClinicId, "Dr. Anna Berg");
        var doctorB = await InsertDoctorAsync(admin.ClinicId, "Dr. Bernd Kraus");
        var doctorOther = await InsertDoctorAsync(admin.ClinicId, "Dr. Carla Sommer");

        var appointments = new Dictionary<string, Arranged>();
        var day = -6;
        foreach (var status in new[] { "completed", "no_show", "cancelled", "checked_in", "scheduled", "confirmed" })
        {
            var startsAt = HoursAhead(day++, 9);
            var id = await InsertAppointmentAsync(admin.ClinicId, doctorA, patient.Id, startsAt, startsAt.AddMinutes(30), status,
                status == "completed" ? "Kontrolle" : null);
            appointments[status] = new Arranged(id, startsAt);
        }

        var second = HoursAhead(-3, 11);
        appointments["second_doctor"] = new Arranged(
            await InsertAppointmentAsync(admin.ClinicId, doctorB, patient.Id, second, second.AddMinutes(30), "completed"), second);
        await InsertAppointmentAsync(admin.ClinicId, doctorOther, other.Id, second, second.AddMinutes(30), "completed");

        var answers = ConsentTestData.Answers();
        var submitted = await Host.CreateFormAsync(admin, patient.Id, "treatment");
        await Host.SubmitAsync(submitted.Token, key.Encrypt(answers));
        var pending = await Host.CreateFormAsync(admin, patient.Id, "photo", "Fotodokumentation");
        var revoked = await Host.CreateFormAsync(admin, patient.Id, "data_processing", "Datenverarbeitung");
        await Host.SubmitAsync(revoked.Token, key.Encrypt(answers));
        await Host.Scenario(s =>
        {
            s.Patch.Url($"/api/consent/{revoked.Token}/revoke");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        var expired = await Host.CreateFormAsync(admin, patient.Id, "treatment");
        await App.ExecuteAsync("update consent_forms set expires_at = now() - interval '1 minute' where id = @Id", new { expired.Id });
        await Host.CreateFormAsync(admin, other.Id);

        var acceptedPlan = await CreatePlanAsync(admin, patient.Id, "accepted",
            [new Item("Filling", "F1", 36, 2, 12_500), new Item("Cleaning", null, null, 1, 8_000)], "Füllungstherapie");
        var draftPlan = await CreatePlanAsync(admin, patient.Id, "draft", [], "Entwurf");
        var cancelledPlan = await CreatePlanAsync(admin, patient.Id, "draft", Items(1_000), "Verworfen");
        await App.ExecuteAsync("update treatment_plans set status = 'cancelled', cancelled_at = now() where id = @Id", new { cancelledPlan.Id });
        await CreatePlanAsync(admin, other.Id);

        return new PatientRecord(admin, doctor, patient.Id, doctorA, doctorB, appointments, submitted.Id, pending.Id, revoked.Id, expired.Id,
            answers, acceptedPlan.Id, draftPlan.Id, cancelledPlan.Id);
    }
}
