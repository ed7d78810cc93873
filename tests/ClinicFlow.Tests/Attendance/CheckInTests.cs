using System.Net;
using System.Text.Json;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Attendance;
using ClinicFlow.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace ClinicFlow.Tests.Attendance;

public sealed class CheckInTests(AppFixture app) : SchedulingTest(app)
{
    private const string Phone = "+5491122334455";

    private sealed record TokenRow(Guid Id, string TokenSealed);

    private sealed record Stored(string Status, int Sequence, DateTimeOffset UpdatedAt, DateTimeOffset StatusChangedAt, DateTimeOffset CreatedAt);

    /// <summary>
    /// A zone in which it is about noon right now (Etc/GMT-N is UTC+N), so appointments a few hours
    /// either side of now are today's there whenever the tests run.
    /// </summary>
    private static string MiddayZone()
    {
        var offset = 12 - DateTimeOffset.UtcNow.Hour;
        return offset switch { > 0 => $"Etc/GMT-{offset}", < 0 => $"Etc/GMT+{-offset}", _ => "UTC" };
    }

    /// <summary>Now, to the minute, so inserted times are tidy.</summary>
    private static DateTimeOffset Now()
    {
        var now = DateTimeOffset.UtcNow;
        return new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, now.Minute, 0, TimeSpan.Zero);
    }

    private sealed record Clinic(Account Admin, Guid DoctorId, string Token);

    /// <summary>A clinic with one doctor, and the check-in token its QR carries, read back from the database.</summary>
    private async Task<Clinic> ClinicAsync(string doctorName = "Dra. Ana Test")
    {
        var admin = await RegisterClinicInZoneAsync(MiddayZone());
        var doctorId = await InsertDoctorAsync(admin.ClinicId, doctorName);
        await Host.Scenario(s =>
        {
            s.Get.Url("/api/clinics/current/attendance-qr");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        var row = (await App.QueryAsync<TokenRow>(
            "select id, token_sealed from attendance_tokens where clinic_id = @clinicId and revoked_at is null",
            new { clinicId = admin.ClinicId })).Single();
        var token = Host.Services.GetRequiredService<SecretBox>().Open(row.TokenSealed, $"attendance:{admin.ClinicId}:{row.Id}")
            ?? throw new InvalidOperationException("The sealed token does not open.");
        return new Clinic(admin, doctorId, token);
    }

    private Task<IScenarioResult> CheckInAsync(string token, object body, HttpStatusCode expected, string? language = null) =>
        Host.Scenario(s =>
        {
            s.Post.Json(body).ToUrl($"/api/attendance/check-in/{token}");
            if (language is not null)
            {
                s.WithRequestHeader("Accept-Language", language);
            }

            s.StatusCodeShouldBe(expected);
        });

    private async Task<Stored> StoredAsync(Guid id) =>
        (await App.QueryAsync<Stored>(
            "select status, sequence, updated_at, status_changed_at, created_at from appointments where id = @id", new { id })).Single();

    private async Task AssertNoAppointmentTodayAsync(string token, string phone)
    {
        var result = await CheckInAsync(token, new { phone }, HttpStatusCode.NotFound);
        var error = await ErrorAsync(result, ErrorCodes.NotFound);
        Assert.Equal("No appointment today for this phone number.", error.Error);
    }

    [Fact]
    public async Task Checks_in_todays_appointment_answers_no_patient_data_and_audits_it()
    {
        var clinic = await ClinicAsync("Dra. Lucía Gómez");
        var patientId = await CreatePatientAsync(clinic.Admin, "Juana Paciente", Phone);
        var now = Now();
        var id = await InsertAppointmentAsync(clinic.Admin.ClinicId, clinic.DoctorId, patientId, now.AddMinutes(-10), now.AddMinutes(20));

        var result = await CheckInAsync(clinic.Token, new { phone = Phone }, HttpStatusCode.OK);

        var text = await result.ReadAsTextAsync();
        var body = JsonSerializer.Deserialize<CheckIn.Response>(text, Json)!;
        Assert.Equal(new CheckIn.Response(id, now.AddMinutes(-10), "Dra. Lucía Gómez", "checked_in"), body);
        using (var json = JsonDocument.Parse(text))
        {
            Assert.Equal(["appointmentId", "startsAt", "doctorName", "status"], json.RootElement.EnumerateObject().Select(p => p.Name));
        }

        Assert.DoesNotContain("Juana", text, StringComparison.Ordinal);
        var stored = await StoredAsync(id);
        Assert.Equal("checked_in", stored.Status);
        Assert.Equal(1, stored.Sequence);
        Assert.True(stored.UpdatedAt > stored.CreatedAt);
        Assert.True(stored.StatusChangedAt > stored.CreatedAt);

        var audit = await LastAuditAsync(clinic.Admin.ClinicId!.Value, "appointment.check_in");
        Assert.NotNull(audit);
        Assert.Equal("appointment", audit.EntityType);
        Assert.Equal(id.ToString(), audit.EntityId);
        Assert.Equal("public", audit.ActorType);
        Assert.Null(audit.ActorId);
        Assert.DoesNotContain(Phone, audit.Changes, StringComparison.Ordinal);
        Assert.Contains("checked_in", audit.Changes, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reads_a_national_phone_number_with_the_clinics_country()
    {
        var clinic = await ClinicAsync();
        var patientId = await CreatePatientAsync(clinic.Admin, phone: "+541122334455");
        var now = Now();
        var id = await InsertAppointmentAsync(clinic.Admin.ClinicId, clinic.DoctorId, patientId, now.AddMinutes(5), now.AddMinutes(35));

        var body = await (await CheckInAsync(clinic.Token, new { phone = "011 2233-4455" }, HttpStatusCode.OK))
            .ReadAsJsonAsync<CheckIn.Response>();

        Assert.Equal(id, body.AppointmentId);
        Assert.Equal("checked_in", (await StoredAsync(id)).Status);
    }

    [Fact]
    public async Task Checks_in_a_confirmed_appointment_too()
    {
        var clinic = await ClinicAsync();
        var patientId = await CreatePatientAsync(clinic.Admin, phone: Phone);
        var now = Now();
        var id = await InsertAppointmentAsync(clinic.Admin.ClinicId, clinic.DoctorId, patientId, now.AddHours(2), now.AddHours(3), "confirmed");

        var body = await (await CheckInAsync(clinic.Token, new { phone = Phone }, HttpStatusCode.OK)).ReadAsJsonAsync<CheckIn.Response>();

        Assert.Equal(id, body.AppointmentId);
        Assert.Equal("checked_in", (await StoredAsync(id)).Status);
    }

    [Fact]
    public async Task Picks_the_earliest_of_todays_appointments_that_has_not_ended()
    {
        var clinic = await ClinicAsync();
        var patientId = await CreatePatientAsync(clinic.Admin, phone: Phone);
        var now = Now();
        var ended = await InsertAppointmentAsync(clinic.Admin.ClinicId, clinic.DoctorId, patientId, now.AddHours(-3), now.AddHours(-2));
        var later = await InsertAppointmentAsync(clinic.Admin.ClinicId, clinic.DoctorId, patientId, now.AddHours(2), now.AddHours(3));
        var current = await InsertAppointmentAsync(clinic.Admin.ClinicId, clinic.DoctorId, patientId, now.AddMinutes(-15), now.AddMinutes(15), "confirmed");

        var body = await (await CheckInAsync(clinic.Token, new { phone = Phone }, HttpStatusCode.OK)).ReadAsJsonAsync<CheckIn.Response>();

        Assert.Equal(current, body.AppointmentId);
        Assert.Equal("checked_in", (await StoredAsync(current)).Status);
        Assert.Equal(("scheduled", 0), ((await StoredAsync(ended)).Status, (await StoredAsync(ended)).Sequence));
        Assert.Equal(("scheduled", 0), ((await StoredAsync(later)).Status, (await StoredAsync(later)).Sequence));
    }

    [Fact]
    public async Task Scanning_again_answers_the_appointment_already_checked_in_instead_of_the_next_one()
    {
        var clinic = await ClinicAsync();
        var patientId = await CreatePatientAsync(clinic.Admin, phone: Phone);
        var now = Now();
        var current = await InsertAppointmentAsync(clinic.Admin.ClinicId, clinic.DoctorId, patientId, now.AddMinutes(5), now.AddMinutes(35));
        var later = await InsertAppointmentAsync(clinic.Admin.ClinicId, clinic.DoctorId, patientId, now.AddHours(2), now.AddHours(3));
        await CheckInAsync(clinic.Token, new { phone = Phone }, HttpStatusCode.OK);

        var again = await (await CheckInAsync(clinic.Token, new { phone = Phone }, HttpStatusCode.OK)).ReadAsJsonAsync<CheckIn.Response>();

        Assert.Equal(current, again.AppointmentId);
        Assert.Equal("checked_in", again.Status);
        Assert.Equal(1, (await StoredAsync(current)).Sequence);
        Assert.Equal("scheduled", (await StoredAsync(later)).Status);
        Assert.Equal(1, await App.ScalarAsync<long>(
            "select count(*) from audit_log where clinic_id = @clinicId and action = 'appointment.check_in'",
            new { clinicId = clinic.Admin.ClinicId }));
    }

    [Fact]
    public async Task Does_not_pick_tomorrows_cancelled_or_ended_appointments()
    {
        var clinic = await ClinicAsync();
        var patientId = await CreatePatientAsync(clinic.Admin, phone: Phone);
        var now = Now();
        var tomorrow = await InsertAppointmentAsync(clinic.Admin.ClinicId, clinic.DoctorId, patientId, now.AddHours(24), now.AddHours(25));
        var cancelled = await InsertAppointmentAsync(clinic.Admin.ClinicId, clinic.DoctorId, patientId, now.AddHours(1), now.AddHours(2), "cancelled");
        var noShow = await InsertAppointmentAsync(clinic.Admin.ClinicId, clinic.DoctorId, patientId, now.AddHours(3), now.AddHours(4), "no_show");
        var ended = await InsertAppointmentAsync(clinic.Admin.ClinicId, clinic.DoctorId, patientId, now.AddHours(-2), now.AddMinutes(-1));

        await AssertNoAppointmentTodayAsync(clinic.Token, Phone);

        Assert.Equal("scheduled", (await StoredAsync(tomorrow)).Status);
        Assert.Equal("cancelled", (await StoredAsync(cancelled)).Status);
        Assert.Equal("no_show", (await StoredAsync(noShow)).Status);
        Assert.Equal("scheduled", (await StoredAsync(ended)).Status);
        Assert.Null(await LastAuditAsync(clinic.Admin.ClinicId!.Value, "appointment.check_in"));
    }

    [Fact]
    public async Task Says_so_in_the_callers_language_when_there_is_no_appointment_today()
    {
        var clinic = await ClinicAsync();

        var result = await CheckInAsync(clinic.Token, new { phone = Phone }, HttpStatusCode.NotFound, "es");

        var error = await ErrorAsync(result, ErrorCodes.NotFound);
        Assert.Equal("No hay ninguna cita hoy para este número de teléfono.", error.Error);
    }

    [Fact]
    public async Task Leaves_another_clinics_patient_with_the_same_phone_alone()
    {
        var mine = await ClinicAsync();
        var other = await ClinicAsync();
        var theirPatient = await CreatePatientAsync(other.Admin, phone: Phone);
        var now = Now();
        var theirs = await InsertAppointmentAsync(other.Admin.ClinicId, other.DoctorId, theirPatient, now.AddMinutes(-5), now.AddMinutes(25));

        await AssertNoAppointmentTodayAsync(mine.Token, Phone);

        var myPatient = await CreatePatientAsync(mine.Admin, phone: Phone);
        var myAppointment = await InsertAppointmentAsync(mine.Admin.ClinicId, mine.DoctorId, myPatient, now.AddMinutes(30), now.AddMinutes(60));
        var body = await (await CheckInAsync(mine.Token, new { phone = Phone }, HttpStatusCode.OK)).ReadAsJsonAsync<CheckIn.Response>();

        Assert.Equal(myAppointment, body.AppointmentId);
        Assert.Equal(("scheduled", 0), ((await StoredAsync(theirs)).Status, (await StoredAsync(theirs)).Sequence));
        Assert.Null(await LastAuditAsync(other.Admin.ClinicId!.Value, "appointment.check_in"));
    }

    [Fact]
    public async Task Does_not_match_an_erased_patient()
    {
        var clinic = await ClinicAsync();
        var patientId = await CreatePatientAsync(clinic.Admin, phone: Phone);
        var now = Now();
        var id = await InsertAppointmentAsync(clinic.Admin.ClinicId, clinic.DoctorId, patientId, now.AddMinutes(5), now.AddMinutes(35));
        await App.ExecuteAsync("update patients set erased_at = now() where id = @patientId", new { patientId });

        await AssertNoAppointmentTodayAsync(clinic.Token, Phone);

        Assert.Equal("scheduled", (await StoredAsync(id)).Status);
    }

    [Fact]
    public async Task An_unknown_token_is_not_found()
    {
        var result = await CheckInAsync("no-such-token", new { phone = Phone }, HttpStatusCode.NotFound);

        var error = await ErrorAsync(result, ErrorCodes.NotFound);
        Assert.NotEqual("No appointment today for this phone number.", error.Error);
    }

    [Fact]
    public async Task A_revoked_token_is_gone()
    {
        var clinic = await ClinicAsync();
        var patientId = await CreatePatientAsync(clinic.Admin, phone: Phone);
        var now = Now();
        var id = await InsertAppointmentAsync(clinic.Admin.ClinicId, clinic.DoctorId, patientId, now.AddMinutes(5), now.AddMinutes(35));
        await App.ExecuteAsync("update attendance_tokens set revoked_at = now() where clinic_id = @clinicId", new { clinicId = clinic.Admin.ClinicId });

        var result = await CheckInAsync(clinic.Token, new { phone = Phone }, HttpStatusCode.Gone);

        await ErrorAsync(result, ErrorCodes.LinkRevoked);
        Assert.Equal("scheduled", (await StoredAsync(id)).Status);
    }

    [Theory]
    [InlineData("not a phone")]
    [InlineData("12")]
    [InlineData("")]
    [InlineData(null)]
    public async Task Rejects_a_bad_phone_naming_the_field(string? phone)
    {
        var clinic = await ClinicAsync();

        await AssertInvalidAsync("phone", s => s.Post.Json(new { phone }).ToUrl($"/api/attendance/check-in/{clinic.Token}"));
    }

    [Fact]
    public async Task Is_rate_limited_per_client_ip()
    {
        var host = await App.StartHostAsync(new Dictionary<string, string?> { ["RateLimits:PublicLinks:PermitLimit"] = "2" });

        for (var i = 0; i < 2; i++)
        {
            await host.Scenario(s =>
            {
                s.Post.Json(new { phone = Phone }).ToUrl("/api/attendance/check-in/guessed-token");
                s.StatusCodeShouldBe(HttpStatusCode.NotFound);
            });
        }

        var limited = await host.Scenario(s =>
        {
            s.Post.Json(new { phone = Phone }).ToUrl("/api/attendance/check-in/guessed-token");
            s.StatusCodeShouldBe(HttpStatusCode.TooManyRequests);
        });

        await ErrorAsync(limited, ErrorCodes.RateLimited);
        Assert.False(string.IsNullOrEmpty(limited.Context.Response.Headers.RetryAfter.ToString()));
    }
}
