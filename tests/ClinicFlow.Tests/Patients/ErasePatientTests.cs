using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Patients;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Patients;

/// <summary>DELETE /api/patients/{id} (<see cref="ErasePatient"/>).</summary>
public sealed class ErasePatientTests(AppFixture app) : SchedulingTest(app)
{
    [Fact]
    public async Task Erases_the_personal_data_and_keeps_a_tombstone()
    {
        var admin = await RegisterClinicAsync();
        var id = await App.InsertFullPatientAsync(admin.ClinicId);

        await EraseAsync(admin, id, HttpStatusCode.NoContent);

        var row = (await App.QueryAsync<(string FullName, string? Phone, string? Email, DateTime? BirthDate, string? Gender, string? DocumentId,
            string? Notes, bool Blocked, string? BlockedReason, DateTime? BlockedAt, string? LookupHash, string? EncryptedData,
            DateTime? ErasedAt, DateTime? RetainUntil, string SearchText)>("""
            select full_name, phone, email::text, birth_date, gender, document_id, notes, blocked, blocked_reason, blocked_at,
                   lookup_hash, encrypted_data, erased_at, retain_until, search_text
            from patients where id = @id
            """, new { id })).Single();
        Assert.Equal(ErasePatient.ErasedName, row.FullName);
        Assert.Null(row.Phone);
        Assert.Null(row.Email);
        Assert.Null(row.BirthDate);
        Assert.Null(row.Gender);
        Assert.Null(row.DocumentId);
        Assert.Null(row.Notes);
        Assert.False(row.Blocked);
        Assert.Null(row.BlockedReason);
        Assert.Null(row.BlockedAt);
        Assert.Null(row.LookupHash);
        Assert.Null(row.EncryptedData);
        Assert.NotNull(row.ErasedAt);
        Assert.Null(row.RetainUntil);
        Assert.DoesNotContain("marta", row.SearchText, StringComparison.Ordinal);

        var audit = await LastAuditAsync(admin.ClinicId!.Value, "patient.erase");
        Assert.Equal(id.ToString(), audit!.EntityId);
        Assert.Equal(admin.UserId, audit.ActorId);
        Assert.Equal("""{"appointmentsAnonymised": 0}""", audit.Changes);
        var everything = await App.ScalarAsync<string>(
            "select coalesce(string_agg(changes::text || coalesce(entity_id, ''), ' '), '') from audit_log where clinic_id = @ClinicId", new { admin.ClinicId });
        Assert.DoesNotContain("Marta", everything, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Anonymises_the_patients_appointments_and_cancels_those_ahead()
    {
        var admin = await RegisterClinicAsync();
        var id = await App.InsertFullPatientAsync(admin.ClinicId);
        var other = await CreatePatientAsync(admin, "Otra Paciente");
        var doctor = await InsertDoctorAsync(admin.ClinicId);
        var past = await InsertAppointmentAsync(admin.ClinicId, doctor, id, HoursAhead(-3, 10), HoursAhead(-3, 11), "completed", "Caries, Marta");
        var ahead = await InsertAppointmentAsync(admin.ClinicId, doctor, id, HoursAhead(3, 10), HoursAhead(3, 11), "confirmed", "Control");
        var othersAhead = await InsertAppointmentAsync(admin.ClinicId, doctor, other, HoursAhead(3, 12), HoursAhead(3, 13), "scheduled", "Control");

        await EraseAsync(admin, id, HttpStatusCode.NoContent);

        var rows = (await App.QueryAsync<(Guid Id, string Status, string? Reason, int Sequence)>(
            "select id, status, reason, sequence from appointments where clinic_id = @ClinicId order by starts_at", new { admin.ClinicId }))
            .ToDictionary(r => r.Id);
        Assert.Equal(("completed", (string?)null, 1), (rows[past].Status, rows[past].Reason, rows[past].Sequence));
        Assert.Equal(("cancelled", (string?)null, 1), (rows[ahead].Status, rows[ahead].Reason, rows[ahead].Sequence));
        Assert.Equal(("scheduled", "Control", 0), (rows[othersAhead].Status, rows[othersAhead].Reason, rows[othersAhead].Sequence));
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "patient.erase");
        Assert.Equal("""{"appointmentsAnonymised": 2}""", audit!.Changes);
    }

    [Fact]
    public async Task Erasing_twice_is_not_found()
    {
        var admin = await RegisterClinicAsync();
        var id = await App.InsertFullPatientAsync(admin.ClinicId);
        await EraseAsync(admin, id, HttpStatusCode.NoContent);

        var result = await EraseAsync(admin, id, HttpStatusCode.NotFound);

        await ErrorAsync(result, ErrorCodes.NotFound);
    }

    [Fact]
    public async Task Another_clinics_patient_is_not_found_and_untouched()
    {
        var admin = await RegisterClinicAsync();
        var stranger = await RegisterClinicAsync();
        var id = await App.InsertFullPatientAsync(stranger.ClinicId);

        var result = await EraseAsync(admin, id, HttpStatusCode.NotFound);

        await ErrorAsync(result, ErrorCodes.NotFound);
        Assert.Equal("Marta Núñez", await App.ScalarAsync<string>("select full_name from patients where id = @id", new { id }));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s =>
        {
            s.Delete.Url($"/api/patients/{Guid.NewGuid()}");
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

        var result = await EraseAsync(member, id, HttpStatusCode.Forbidden);

        await ErrorAsync(result, ErrorCodes.Forbidden);
        Assert.Equal("Marta Núñez", await App.ScalarAsync<string>("select full_name from patients where id = @id", new { id }));
    }

    private Task<IScenarioResult> EraseAsync(Account account, Guid id, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Delete.Url($"/api/patients/{id}");
            s.WithBearerToken(account.Token);
            s.StatusCodeShouldBe(expected);
        });
}

