using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Patients;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Patients;

/// <summary>GET /api/patients/{id}/export (<see cref="ExportPatientData"/>).</summary>
public sealed class ExportPatientDataTests(AppFixture app) : SchedulingTest(app)
{
    [Fact]
    public async Task Exports_every_stored_field_and_the_patients_audit_trail()
    {
        var admin = await RegisterClinicAsync("Praxis Export");
        var id = await App.InsertFullPatientAsync(admin.ClinicId);
        var doctor = await InsertDoctorAsync(admin.ClinicId, "Dr. Export");
        var visit = await InsertAppointmentAsync(admin.ClinicId, doctor, id, HoursAhead(-2, 9), HoursAhead(-2, 10), "completed", "Revisión");
        // The first export is itself an audit entry about the patient: the second one lists it.
        await ExportAsync(admin, id, HttpStatusCode.OK);

        var result = await ExportAsync(admin, id, HttpStatusCode.OK);

        var body = await result.ReadAsJsonAsync<ExportPatientData.Response>();
        Assert.Equal(admin.ClinicId, body.Clinic.Id);
        Assert.Equal("Praxis Export", body.Clinic.Name);
        Assert.True(body.ExportedAt > DateTimeOffset.UtcNow.AddMinutes(-1));
        var p = body.Patient;
        Assert.Equal(id, p.Id);
        Assert.Equal(("Marta Núñez", "+5491122334401", "marta@example.com", "1985-04-03", "female", "DNI-1", "allergic"),
            (p.FullName, p.Phone, p.Email, p.BirthDate, p.Gender, p.DocumentId, p.Notes));
        Assert.Equal((true, "no-shows", "hash-1", "a.b.c.d.e"), (p.Blocked, p.BlockedReason, p.LookupHash, p.EncryptedData));
        Assert.NotNull(p.BlockedAt);
        var appointment = Assert.Single(body.Appointments);
        Assert.Equal((visit, "completed", "Revisión", "Dr. Export", HoursAhead(-2, 9)),
            (appointment.Id, appointment.Status, appointment.Reason, appointment.DoctorName, appointment.StartsAt));
        var entry = Assert.Single(body.AuditTrail);
        Assert.Equal(("patient.data_export", admin.UserId), (entry.Action, entry.ActorId));

        var text = await result.ReadAsTextAsync();
        Assert.Contains("\"auditTrail\"", text, StringComparison.Ordinal);
        Assert.Contains("\"encryptedData\"", text, StringComparison.Ordinal);
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "patient.data_export");
        Assert.Equal(id.ToString(), audit!.EntityId);
        Assert.Equal(admin.UserId, audit.ActorId);
    }

    [Fact]
    public async Task Exports_the_patients_waitlist_entries_with_their_offers()
    {
        var admin = await RegisterClinicAsync();
        var id = await App.InsertFullPatientAsync(admin.ClinicId);
        var doctor = await InsertDoctorAsync(admin.ClinicId, "Dr. Espera");
        var entryId = Guid.CreateVersion7();
        var offerId = Guid.CreateVersion7();
        await App.ExecuteAsync("""
            insert into waitlist_entries (id, clinic_id, patient_id, doctor_id, window_from, window_to, duration_minutes, note, status)
            values (@entryId, @clinicId, @id, @doctor, @from, @to, 45, 'solo mañanas', 'waiting');
            insert into waitlist_offers (id, clinic_id, entry_id, doctor_id, starts_at, ends_at, status, expires_at)
            values (@offerId, @clinicId, @entryId, @doctor, @from, @from + interval '45 minutes', 'expired', now());
            """, new { entryId, offerId, clinicId = admin.ClinicId, id, doctor, from = HoursAhead(2, 9), to = HoursAhead(3, 9) });

        var body = await (await ExportAsync(admin, id, HttpStatusCode.OK)).ReadAsJsonAsync<ExportPatientData.Response>();

        var entry = Assert.Single(body.Waitlist);
        Assert.Equal((entryId, (Guid?)doctor, 45, "solo mañanas", "waiting"),
            (entry.Id, entry.DoctorId, entry.DurationMinutes, entry.Note, entry.Status));
        var offer = Assert.Single(entry.Offers);
        Assert.Equal((offerId, "expired", HoursAhead(2, 9)), (offer.Id, offer.Status, offer.StartsAt));
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

        await ErrorAsync(await ExportAsync(admin, id, HttpStatusCode.NotFound), ErrorCodes.NotFound);
    }

    [Fact]
    public async Task Another_clinics_patient_is_not_found()
    {
        var admin = await RegisterClinicAsync();
        var stranger = await RegisterClinicAsync();
        var id = await App.InsertFullPatientAsync(stranger.ClinicId);

        var result = await ExportAsync(admin, id, HttpStatusCode.NotFound);

        await ErrorAsync(result, ErrorCodes.NotFound);
        Assert.DoesNotContain("Marta", await result.ReadAsTextAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s =>
        {
            s.Get.Url($"/api/patients/{Guid.NewGuid()}/export");
        });
    }

    [Theory]
    [InlineData("doctor")]
    [InlineData("staff")]
    public async Task Refuses_non_admins(string role)
    {
        var admin = await RegisterClinicAsync();
        var member = await AddUserAsync(admin, role);
        var id = await App.InsertFullPatientAsync(admin.ClinicId);

        await ErrorAsync(await ExportAsync(member, id, HttpStatusCode.Forbidden), ErrorCodes.Forbidden);
    }

    private Task<IScenarioResult> ExportAsync(Account account, Guid id, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Get.Url($"/api/patients/{id}/export");
            s.WithBearerToken(account.Token);
            s.StatusCodeShouldBe(expected);
        });
}
