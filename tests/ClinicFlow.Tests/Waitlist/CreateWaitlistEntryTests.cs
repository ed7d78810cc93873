using System.Net;
using System.Text.Json;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Waitlist;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Waitlist;

/// <summary>POST /api/waitlist (<see cref="CreateWaitlistEntry"/>).</summary>
public sealed class CreateWaitlistEntryTests(AppFixture app) : WaitlistTest(app)
{
    private sealed record Stored(Guid PatientId, Guid? DoctorId, DateTimeOffset WindowFrom, DateTimeOffset WindowTo, int DurationMinutes,
        string? Note, string Status, Guid? CreatedBy);

    private async Task<Stored?> StoredAsync(Guid id) => (await App.QueryAsync<Stored>("""
        select patient_id, doctor_id, window_from, window_to, duration_minutes, note, status, created_by
        from waitlist_entries where id = @id
        """, new { id })).SingleOrDefault();

    private Task<IScenarioResult> PostAsync(Account? caller, object body, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Post.Json(body).ToUrl("/api/waitlist");
            if (caller is not null)
            {
                s.WithBearerToken(caller.Token);
            }

            s.StatusCodeShouldBe(expected);
        });

    private Task<int> CountAsync(Guid? clinicId) =>
        App.ScalarAsync<int>("select count(*)::int from waitlist_entries where clinic_id = @clinicId", new { clinicId });

    [Fact]
    public async Task Puts_a_patient_on_the_list_for_a_doctor_and_audits_it_without_the_note()
    {
        var admin = await RegisterClinicAsync();
        var staff = await AddUserAsync(admin, "staff");
        var (doctorId, patientId) = await DoctorAndPatientAsync(admin);
        var from = HoursAhead(2, 12);
        var to = HoursAhead(4, 18);

        var result = await PostAsync(staff, new CreateWaitlistEntry.Request(patientId, doctorId, from.ToOffset(TimeSpan.FromHours(-3)), to, 45,
            "  Dolor de muelas  "), HttpStatusCode.Created);

        var entry = await result.ReadAsJsonAsync<CreateWaitlistEntry.Response>();
        Assert.Equal(patientId, entry.PatientId);
        Assert.Equal(doctorId, entry.DoctorId);
        Assert.Equal(from, entry.From);
        Assert.Equal(TimeSpan.Zero, entry.From.Offset);
        Assert.Equal(to, entry.To);
        Assert.Equal(45, entry.DurationMinutes);
        Assert.Equal("Dolor de muelas", entry.Note);
        Assert.Equal("waiting", entry.Status);
        Assert.Equal(new CreateWaitlistEntry.Summary(patientId, "María Pérez"), entry.Patient);
        Assert.Equal(new CreateWaitlistEntry.Summary(doctorId, "Dra. Ana Gómez"), entry.Doctor);

        var stored = await StoredAsync(entry.Id);
        Assert.Equal(new Stored(patientId, doctorId, from, to, 45, "Dolor de muelas", "waiting", staff.UserId), stored);
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "waitlist.create");
        Assert.NotNull(audit);
        Assert.Equal("waitlist_entry", audit.EntityType);
        Assert.Equal(entry.Id.ToString(), audit.EntityId);
        Assert.Equal(staff.UserId, audit.ActorId);
        using var changes = JsonDocument.Parse(audit.Changes);
        Assert.Equal(patientId, changes.RootElement.GetProperty("patientId").GetGuid());
        Assert.Equal("note", changes.RootElement.GetProperty("fields")[0].GetString());
        Assert.DoesNotContain("muelas", audit.Changes, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Defaults_to_any_doctor_from_now_for_30_minutes()
    {
        var admin = await RegisterClinicAsync();
        var patientId = await CreatePatientAsync(admin, "Pedro Pérez", "+5491122334466");
        var before = DateTimeOffset.UtcNow;

        var result = await PostAsync(admin, new { patientId, to = HoursAhead(5, 12) }, HttpStatusCode.Created);

        var entry = await result.ReadAsJsonAsync<CreateWaitlistEntry.Response>();
        Assert.Null(entry.DoctorId);
        Assert.Null(entry.Doctor);
        Assert.Null(entry.Note);
        Assert.Equal(30, entry.DurationMinutes);
        Assert.InRange(entry.From, before.AddSeconds(-1), DateTimeOffset.UtcNow.AddSeconds(1));
        Assert.Equal("waiting", (await StoredAsync(entry.Id))!.Status);
    }

    [Fact]
    public async Task Requires_a_token() =>
        await AssertNeedsTokenAsync(s => s.Post.Json(new { patientId = Guid.NewGuid(), to = HoursAhead(2, 12) }).ToUrl("/api/waitlist"));

    [Fact]
    public async Task Answers_404_for_a_patient_or_doctor_of_another_clinic_and_stores_nothing()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync();
        var (doctorId, patientId) = await DoctorAndPatientAsync(admin);
        var (theirDoctor, theirPatient) = await DoctorAndPatientAsync(other, phone: "+5491122334477");

        await ErrorAsync(await PostAsync(admin, new { patientId = theirPatient, to = HoursAhead(3, 12) }, HttpStatusCode.NotFound),
            ErrorCodes.NotFound);
        await ErrorAsync(await PostAsync(admin, new { patientId, doctorId = theirDoctor, to = HoursAhead(3, 12) }, HttpStatusCode.NotFound),
            ErrorCodes.NotFound);
        await ErrorAsync(await PostAsync(admin, new { patientId = Guid.NewGuid(), doctorId, to = HoursAhead(3, 12) }, HttpStatusCode.NotFound),
            ErrorCodes.NotFound);

        Assert.Equal(0, await CountAsync(admin.ClinicId));
        Assert.Equal(0, await CountAsync(other.ClinicId));
    }

    [Fact]
    public async Task Rejects_bad_input_with_details_naming_the_field()
    {
        var admin = await RegisterClinicAsync();
        var (doctorId, patientId) = await DoctorAndPatientAsync(admin);
        var to = HoursAhead(3, 12);

        var missing = await AssertInvalidAsync("patientId", s =>
        {
            s.Post.Json(new { note = "x" }).ToUrl("/api/waitlist");
            s.WithBearerToken(admin.Token);
        });
        Assert.Contains("to", missing.Details!.Keys);
        await AssertInvalidAsync("doctorId", s =>
        {
            s.Post.Json(new { patientId, doctorId = Guid.Empty, to }).ToUrl("/api/waitlist");
            s.WithBearerToken(admin.Token);
        });
        await AssertInvalidAsync("durationMinutes", s =>
        {
            s.Post.Json(new { patientId, to, durationMinutes = 4 }).ToUrl("/api/waitlist");
            s.WithBearerToken(admin.Token);
        });
        await AssertInvalidAsync("note", s =>
        {
            s.Post.Json(new { patientId, to, note = new string('n', 1001) }).ToUrl("/api/waitlist");
            s.WithBearerToken(admin.Token);
        });
        foreach (var (from, until, minutes) in new (DateTimeOffset, DateTimeOffset, int)[]
                 {
                     (to, to.AddHours(-1), 30), // ends before it starts
                     (HoursAhead(-3, 12), HoursAhead(-2, 12), 30), // over already
                     (HoursAhead(1, 12), HoursAhead(369, 12), 30), // longer than a year
                     (to, to.AddMinutes(20), 30), // shorter than the length asked for
                 })
        {
            await AssertInvalidAsync("to", s =>
            {
                s.Post.Json(new { patientId, doctorId, from, to = until, durationMinutes = minutes }).ToUrl("/api/waitlist");
                s.WithBearerToken(admin.Token);
            });
        }

        Assert.Equal(0, await CountAsync(admin.ClinicId));
    }

    [Fact]
    public async Task Refuses_a_blocked_patient_and_an_inactive_doctor()
    {
        var admin = await RegisterClinicAsync();
        var (doctorId, patientId) = await DoctorAndPatientAsync(admin);
        var inactive = await InsertDoctorAsync(admin.ClinicId, "Dr. Inactivo", active: false);
        var to = HoursAhead(3, 12);

        await ErrorAsync(await PostAsync(admin, new { patientId, doctorId = inactive, to }, HttpStatusCode.Conflict), ErrorCodes.Conflict);
        await Host.Scenario(s =>
        {
            s.Post.Json(new { reason = "Conducta" }).ToUrl($"/api/patients/{patientId}/block");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        await ErrorAsync(await PostAsync(admin, new { patientId, doctorId, to }, HttpStatusCode.Conflict), ErrorCodes.PatientBlocked);

        Assert.Equal(0, await CountAsync(admin.ClinicId));
    }
}
