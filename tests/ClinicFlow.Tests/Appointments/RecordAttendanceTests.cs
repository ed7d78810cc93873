using System.Net;
using System.Text.Json;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Appointments;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Appointments;

public sealed class RecordAttendanceTests(AppFixture app) : SchedulingTest(app)
{
    private sealed record Stored(string Status, int Sequence, DateTimeOffset UpdatedAt, DateTimeOffset StatusChangedAt);

    private sealed record Clinic(Account Admin, Guid DoctorId, Guid PatientId);

    private async Task<Clinic> ArrangeAsync(string zone = "Etc/UTC")
    {
        var admin = await RegisterClinicInZoneAsync(zone);
        var doctor = await InsertDoctorAsync(admin.ClinicId, "Dra. Ana Test");
        await InsertAlwaysOpenAsync(admin.ClinicId, doctor);
        var patient = await CreatePatientAsync(admin, "Pablo Paciente");
        return new Clinic(admin, doctor, patient);
    }

    private Task<IScenarioResult> RecordAsync(Account? caller, Guid id, object body, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Post.Json(body).ToUrl($"/api/appointments/{id}/attendance");
            if (caller is not null)
            {
                s.WithBearerToken(caller.Token);
            }

            s.StatusCodeShouldBe(expected);
        });

    private async Task<Stored> StoredAsync(Guid id) => (await App.QueryAsync<Stored>(
        "select status, sequence, updated_at, status_changed_at from appointments where id = @id", new { id })).Single();

    private static (string? From, string? To) FromTo(AuditRow? audit)
    {
        Assert.NotNull(audit);
        using var changes = JsonDocument.Parse(audit.Changes);
        return (changes.RootElement.GetProperty("from").GetString(), changes.RootElement.GetProperty("to").GetString());
    }

    /// <summary>Today (UTC, the clinic's zone here) and already begun.</summary>
    private static DateTimeOffset JustBegun()
    {
        var now = DateTimeOffset.UtcNow;
        var today = new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero);
        return now.AddMinutes(-1) < today ? today : now.AddMinutes(-1);
    }

    [Fact]
    public async Task Checks_in_today_and_audits_it()
    {
        var clinic = await ArrangeAsync();
        var staff = await AddUserAsync(clinic.Admin, "staff");
        var start = JustBegun();
        var id = await InsertAppointmentAsync(clinic.Admin.ClinicId, clinic.DoctorId, clinic.PatientId, start, start.AddMinutes(30), "confirmed");
        var before = await StoredAsync(id);

        var appointment = await (await RecordAsync(staff, id, new { status = "checked_in" }, HttpStatusCode.OK))
            .ReadAsJsonAsync<RecordAttendance.Response>();

        Assert.Equal(id, appointment.Id);
        Assert.Equal("checked_in", appointment.Status);
        Assert.Equal(new RecordAttendance.Summary(clinic.DoctorId, "Dra. Ana Test"), appointment.Doctor);
        Assert.Equal(new RecordAttendance.Summary(clinic.PatientId, "Pablo Paciente"), appointment.Patient);
        var stored = await StoredAsync(id);
        Assert.Equal(("checked_in", 1), (stored.Status, stored.Sequence));
        Assert.True(stored.StatusChangedAt > before.StatusChangedAt);
        Assert.True(stored.UpdatedAt > before.UpdatedAt);
        var audit = await LastAuditAsync(clinic.Admin.ClinicId!.Value, "appointment.check_in");
        Assert.Equal((staff.UserId, id.ToString()), (audit!.ActorId, audit.EntityId));
        Assert.Equal(("confirmed", "checked_in"), FromTo(audit));
    }

    [Fact]
    public async Task Completes_a_checked_in_visit()
    {
        var clinic = await ArrangeAsync();
        var start = JustBegun();
        var id = await InsertAppointmentAsync(clinic.Admin.ClinicId, clinic.DoctorId, clinic.PatientId, start, start.AddMinutes(30));

        await RecordAsync(clinic.Admin, id, new { status = "checked_in" }, HttpStatusCode.OK);
        var appointment = await (await RecordAsync(clinic.Admin, id, new { status = "completed" }, HttpStatusCode.OK))
            .ReadAsJsonAsync<RecordAttendance.Response>();

        Assert.Equal("completed", appointment.Status);
        Assert.Equal(("completed", 2), ((await StoredAsync(id)).Status, (await StoredAsync(id)).Sequence));
        Assert.Equal(("checked_in", "completed"), FromTo(await LastAuditAsync(clinic.Admin.ClinicId!.Value, "appointment.complete")));
    }

    [Fact]
    public async Task Marks_a_no_show_once_begun_and_frees_the_slot()
    {
        var clinic = await ArrangeAsync();
        var other = await CreatePatientAsync(clinic.Admin, "Otra");
        var start = JustBegun();
        var id = await InsertAppointmentAsync(clinic.Admin.ClinicId, clinic.DoctorId, clinic.PatientId, start, start.AddMinutes(30));
        var booking = new { doctorId = clinic.DoctorId, patientId = other, startsAt = start, durationMinutes = 30, allowOutsideSchedule = true };
        Task<IScenarioResult> BookAsync(HttpStatusCode expected) => Host.Scenario(s =>
        {
            s.Post.Json(booking).ToUrl("/api/appointments");
            s.WithBearerToken(clinic.Admin.Token);
            s.StatusCodeShouldBe(expected);
        });
        await ErrorAsync(await BookAsync(HttpStatusCode.Conflict), ErrorCodes.AppointmentConflict);

        var appointment = await (await RecordAsync(clinic.Admin, id, new { status = "no_show" }, HttpStatusCode.OK))
            .ReadAsJsonAsync<RecordAttendance.Response>();
        await BookAsync(HttpStatusCode.Created);

        Assert.Equal("no_show", appointment.Status);
        Assert.Equal(("no_show", 1), ((await StoredAsync(id)).Status, (await StoredAsync(id)).Sequence));
        Assert.Equal(("scheduled", "no_show"), FromTo(await LastAuditAsync(clinic.Admin.ClinicId!.Value, "appointment.no_show")));
    }

    [Fact]
    public async Task Refuses_a_no_show_before_the_appointment_begins()
    {
        var clinic = await ArrangeAsync();
        var start = DateTimeOffset.UtcNow.AddMinutes(10);
        var id = await InsertAppointmentAsync(clinic.Admin.ClinicId, clinic.DoctorId, clinic.PatientId, start, start.AddMinutes(30));
        var before = await StoredAsync(id);

        var result = await RecordAsync(clinic.Admin, id, new { status = "no_show" }, HttpStatusCode.Conflict);

        var error = await ErrorAsync(result, ErrorCodes.InvalidState);
        Assert.Contains("no-show", error.Error, StringComparison.Ordinal);
        Assert.Equal(before, await StoredAsync(id));
    }

    /// <summary>
    /// Kiritimati is UTC+14: the clinic's day and the UTC day differ for most of every day, so a
    /// check-in by the UTC date would accept one of these and refuse another.
    /// </summary>
    [Fact]
    public async Task Checks_in_only_on_the_appointments_day_in_the_clinics_zone()
    {
        const string Zone = "Pacific/Kiritimati";
        var clinic = await ArrangeAsync(Zone);
        var tz = TimeZoneInfo.FindSystemTimeZoneById(Zone);
        var today = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(DateTimeOffset.UtcNow, tz).DateTime);
        var earlyToday = StartOfDay(tz, today).AddMinutes(30);
        var lateYesterday = StartOfDay(tz, today).AddMinutes(-60);
        var earlyTomorrow = StartOfDay(tz, today.AddDays(1)).AddMinutes(30);
        var ids = new List<Guid>();
        foreach (var start in new[] { earlyToday, lateYesterday, earlyTomorrow })
        {
            ids.Add(await InsertAppointmentAsync(clinic.Admin.ClinicId, clinic.DoctorId, clinic.PatientId, start, start.AddMinutes(20)));
        }

        await RecordAsync(clinic.Admin, ids[0], new { status = "checked_in" }, HttpStatusCode.OK);
        var yesterday = await RecordAsync(clinic.Admin, ids[1], new { status = "checked_in" }, HttpStatusCode.Conflict);
        var tomorrow = await RecordAsync(clinic.Admin, ids[2], new { status = "checked_in" }, HttpStatusCode.Conflict);

        Assert.Contains("day", (await ErrorAsync(yesterday, ErrorCodes.InvalidState)).Error, StringComparison.Ordinal);
        await ErrorAsync(tomorrow, ErrorCodes.InvalidState);
        Assert.Equal(["checked_in", "scheduled", "scheduled"], await Task.WhenAll(ids.Select(async i => (await StoredAsync(i)).Status)));
    }

    [Theory]
    [InlineData("scheduled", "completed")]
    [InlineData("confirmed", "completed")]
    [InlineData("cancelled", "checked_in")]
    [InlineData("cancelled", "no_show")]
    [InlineData("no_show", "checked_in")]
    [InlineData("checked_in", "no_show")]
    [InlineData("completed", "checked_in")]
    [InlineData("completed", "no_show")]
    public async Task Refuses_moves_outside_the_status_machine(string from, string to)
    {
        var clinic = await ArrangeAsync();
        var start = JustBegun();
        var id = await InsertAppointmentAsync(clinic.Admin.ClinicId, clinic.DoctorId, clinic.PatientId, start, start.AddMinutes(30), from);
        var before = await StoredAsync(id);

        var result = await RecordAsync(clinic.Admin, id, new { status = to }, HttpStatusCode.Conflict);

        await ErrorAsync(result, ErrorCodes.InvalidState);
        Assert.Equal(before, await StoredAsync(id));
    }

    [Fact]
    public async Task A_repeated_status_changes_nothing()
    {
        var clinic = await ArrangeAsync();
        var start = JustBegun();
        var id = await InsertAppointmentAsync(clinic.Admin.ClinicId, clinic.DoctorId, clinic.PatientId, start, start.AddMinutes(30), "checked_in");
        var before = await StoredAsync(id);

        var appointment = await (await RecordAsync(clinic.Admin, id, new { status = "checked_in" }, HttpStatusCode.OK))
            .ReadAsJsonAsync<RecordAttendance.Response>();

        Assert.Equal("checked_in", appointment.Status);
        Assert.Equal(before, await StoredAsync(id));
        Assert.Null(await LastAuditAsync(clinic.Admin.ClinicId!.Value, "appointment.check_in"));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Post.Json(new { status = "checked_in" }).ToUrl($"/api/appointments/{Guid.CreateVersion7()}/attendance"));
    }

    [Fact]
    public async Task Hides_another_clinics_appointment()
    {
        var clinic = await ArrangeAsync();
        var other = await ArrangeAsync();
        var start = JustBegun();
        var theirs = await InsertAppointmentAsync(other.Admin.ClinicId, other.DoctorId, other.PatientId, start, start.AddMinutes(30));
        var before = await StoredAsync(theirs);

        await ErrorAsync(await RecordAsync(clinic.Admin, theirs, new { status = "checked_in" }, HttpStatusCode.NotFound), ErrorCodes.NotFound);
        await ErrorAsync(await RecordAsync(clinic.Admin, theirs, new { status = "no_show" }, HttpStatusCode.NotFound), ErrorCodes.NotFound);

        Assert.Equal(before, await StoredAsync(theirs));
    }

    [Theory]
    [InlineData("confirmed")]
    [InlineData("cancelled")]
    [InlineData("")]
    [InlineData(null)]
    public async Task Rejects_a_status_that_is_not_attendance(string? status)
    {
        var clinic = await ArrangeAsync();
        var start = JustBegun();
        var id = await InsertAppointmentAsync(clinic.Admin.ClinicId, clinic.DoctorId, clinic.PatientId, start, start.AddMinutes(30));
        var before = await StoredAsync(id);

        await AssertInvalidAsync("status", s =>
        {
            s.Post.Json(new { status }).ToUrl($"/api/appointments/{id}/attendance");
            s.WithBearerToken(clinic.Admin.Token);
        });
        Assert.Equal(before, await StoredAsync(id));
    }
}
