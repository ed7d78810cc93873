using System.Net;
using System.Text.Json;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Appointments;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Appointments;

public sealed class CreateAppointmentSeriesTests(AppFixture app) : SchedulingTest(app)
{
    private const string Berlin = "Europe/Berlin";
    private static readonly TimeZoneInfo BerlinZone = TimeZoneInfo.FindSystemTimeZoneById(Berlin);

    private sealed record Stored(Guid Id, DateTimeOffset StartsAt, DateTimeOffset EndsAt, string Status, string? Reason, bool OutsideSchedule,
        Guid? SeriesId, Guid? CreatedBy);

    private sealed record Clinic(Account Admin, Guid DoctorId, Guid PatientId);

    /// <summary>A clinic in Berlin with one doctor open around the clock and one patient.</summary>
    private async Task<Clinic> ArrangeAsync()
    {
        var admin = await RegisterClinicInZoneAsync(Berlin, "DE");
        var doctor = await InsertDoctorAsync(admin.ClinicId, "Dr. Weber");
        await InsertAlwaysOpenAsync(admin.ClinicId, doctor);
        var patient = await CreatePatientAsync(admin, "Paula Patientin");
        return new Clinic(admin, doctor, patient);
    }

    /// <summary>A wall-clock time in Berlin as an instant (never a time a DST change skips or repeats here).</summary>
    private static DateTimeOffset BerlinAt(DateOnly date, int hour, int minute = 0)
    {
        var local = date.ToDateTime(new TimeOnly(hour, minute));
        return new DateTimeOffset(local, BerlinZone.GetUtcOffset(local)).ToUniversalTime();
    }

    private static DateOnly Ahead(int days) => DateOnly.FromDateTime(DateTime.UtcNow).AddDays(days);

    private static object Series(Guid doctorId, Guid patientId, DateTimeOffset startsAt, string recurrence, string? mode = null,
        bool? allowOutsideSchedule = null) =>
        new { doctorId, patientId, startsAt, durationMinutes = 30, reason = "Physiotherapie", recurrence, mode, allowOutsideSchedule };

    private Task<IScenarioResult> PostAsync(Account? caller, object body, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Post.Json(body).ToUrl("/api/appointments/series");
            if (caller is not null)
            {
                s.WithBearerToken(caller.Token);
            }

            s.StatusCodeShouldBe(expected);
        });

    private Task<IReadOnlyList<Stored>> StoredAsync(Guid? clinicId) =>
        App.QueryAsync<Stored>("""
            select id, starts_at, ends_at, status, reason, outside_schedule, series_id, created_by
            from appointments where clinic_id = @clinicId order by starts_at, id
            """, new { clinicId });

    [Fact]
    public async Task A_weekly_series_keeps_its_wall_clock_time_across_a_dst_change()
    {
        var clinic = await ArrangeAsync();
        var staff = await AddUserAsync(clinic.Admin, "staff");
        var change = NextOffsetChange(Berlin, forward: false);
        var first = change.AddDays(-7) > Ahead(1) ? change.AddDays(-7) : change.AddDays(-1);

        var result = await PostAsync(staff, Series(clinic.DoctorId, clinic.PatientId, BerlinAt(first, 9), "RRULE:FREQ=WEEKLY;COUNT=4"),
            HttpStatusCode.Created);

        var series = await result.ReadAsJsonAsync<CreateAppointmentSeries.Response>();
        Assert.Empty(series.Skipped);
        Assert.Equal(4, series.Appointments.Count);
        var dates = Enumerable.Range(0, 4).Select(i => first.AddDays(7 * i)).ToList();
        Assert.Equal(dates.Select(d => BerlinAt(d, 9)), series.Appointments.Select(a => a.StartsAt));
        Assert.All(series.Appointments, a =>
        {
            Assert.Equal(new TimeOnly(9, 0), TimeOnly.FromDateTime(TimeZoneInfo.ConvertTime(a.StartsAt, BerlinZone).DateTime));
            Assert.Equal(a.StartsAt.AddMinutes(30), a.EndsAt);
            Assert.Equal(series.SeriesId, a.SeriesId);
            Assert.Equal("scheduled", a.Status);
            Assert.Equal("Physiotherapie", a.Reason);
            Assert.Equal(new CreateAppointmentSeries.Summary(clinic.DoctorId, "Dr. Weber"), a.Doctor);
            Assert.Equal(new CreateAppointmentSeries.Summary(clinic.PatientId, "Paula Patientin"), a.Patient);
        });
        // Summer time before the change (UTC+2), winter time after it (UTC+1): the instants move, 09:00 does not.
        Assert.Equal(7, series.Appointments[0].StartsAt.UtcDateTime.Hour);
        Assert.Equal(8, series.Appointments[^1].StartsAt.UtcDateTime.Hour);

        var stored = await StoredAsync(clinic.Admin.ClinicId);
        Assert.Equal(series.Appointments.Select(a => a.Id), stored.Select(s => s.Id));
        // Each occurrence is a normal appointment that names its series.
        var single = await (await Host.Scenario(s =>
        {
            s.Get.Url($"/api/appointments/{stored[1].Id}");
            s.WithBearerToken(staff.Token);
            s.StatusCodeShouldBeOk();
        })).ReadAsJsonAsync<GetAppointment.Response>();
        Assert.Equal(series.SeriesId, single.SeriesId);
        Assert.All(stored, s => Assert.Equal(new Stored(s.Id, s.StartsAt, s.StartsAt.AddMinutes(30), "scheduled", "Physiotherapie", false,
            series.SeriesId, staff.UserId), s));

        var audit = await App.QueryAsync<AuditRow>("""
            select action, entity_type, entity_id, actor_id, actor_type, changes::text as changes
            from audit_log where clinic_id = @clinicId and action = 'appointment.create' order by seq
            """, new { clinicId = clinic.Admin.ClinicId });
        Assert.Equal(stored.Select(s => s.Id.ToString()), audit.Select(a => a.EntityId));
        Assert.All(audit, a =>
        {
            Assert.Equal(staff.UserId, a.ActorId);
            using var changes = JsonDocument.Parse(a.Changes);
            Assert.Equal(series.SeriesId, changes.RootElement.GetProperty("seriesId").GetGuid());
            Assert.DoesNotContain("Physiotherapie", a.Changes, StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task A_daily_series_until_a_date_books_every_day_up_to_it()
    {
        var clinic = await ArrangeAsync();
        var first = Ahead(3);
        var until = first.AddDays(4).ToString("yyyyMMdd", System.Globalization.CultureInfo.InvariantCulture);

        var series = await (await PostAsync(clinic.Admin, Series(clinic.DoctorId, clinic.PatientId, BerlinAt(first, 14),
            $"FREQ=DAILY;UNTIL={until}T235959Z"), HttpStatusCode.Created)).ReadAsJsonAsync<CreateAppointmentSeries.Response>();

        Assert.Equal(Enumerable.Range(0, 5).Select(i => BerlinAt(first.AddDays(i), 14)), series.Appointments.Select(a => a.StartsAt));
        Assert.Equal(5, (await StoredAsync(clinic.Admin.ClinicId)).Count(s => s.SeriesId == series.SeriesId));
    }

    [Fact]
    public async Task All_or_nothing_with_one_conflict_books_nothing_and_names_the_date()
    {
        var clinic = await ArrangeAsync();
        var first = Ahead(3);
        var taken = first.AddDays(14);
        var other = await CreatePatientAsync(clinic.Admin, "Otto Anderer");
        await InsertAppointmentAsync(clinic.Admin.ClinicId, clinic.DoctorId, other, BerlinAt(taken, 9).AddMinutes(15), BerlinAt(taken, 10));

        var result = await PostAsync(clinic.Admin, Series(clinic.DoctorId, clinic.PatientId, BerlinAt(first, 9), "FREQ=WEEKLY;COUNT=4"),
            HttpStatusCode.Conflict);

        var error = await ErrorAsync(result, ErrorCodes.AppointmentConflict);
        Assert.Equal([taken.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture)], error.Details!.Keys);
        var stored = Assert.Single(await StoredAsync(clinic.Admin.ClinicId));
        Assert.Null(stored.SeriesId);
        Assert.Null(await LastAuditAsync(clinic.Admin.ClinicId!.Value, "appointment.create"));
    }

    [Fact]
    public async Task Skip_conflicts_books_the_free_dates_and_lists_the_skipped_one()
    {
        var clinic = await ArrangeAsync();
        var first = Ahead(3);
        var taken = first.AddDays(7);
        var other = await CreatePatientAsync(clinic.Admin, "Otto Anderer");
        await InsertAppointmentAsync(clinic.Admin.ClinicId, clinic.DoctorId, other, BerlinAt(taken, 9), BerlinAt(taken, 9, 30));

        var series = await (await PostAsync(clinic.Admin, Series(clinic.DoctorId, clinic.PatientId, BerlinAt(first, 9), "FREQ=WEEKLY;COUNT=4",
            AppointmentSeriesRules.SkipConflicts), HttpStatusCode.Created)).ReadAsJsonAsync<CreateAppointmentSeries.Response>();

        Assert.Equal([first, first.AddDays(14), first.AddDays(21)],
            series.Appointments.Select(a => DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(a.StartsAt, BerlinZone).DateTime)));
        var skipped = Assert.Single(series.Skipped);
        Assert.Equal(new CreateAppointmentSeries.Skipped(taken, BerlinAt(taken, 9), BerlinAt(taken, 9, 30), "appointment_conflict"), skipped);
        Assert.Equal(3, (await StoredAsync(clinic.Admin.ClinicId)).Count(s => s.SeriesId == series.SeriesId));
        Assert.Equal(3, await App.ScalarAsync<int>(
            "select count(*)::int from audit_log where clinic_id = @clinicId and action = 'appointment.create'", new { clinicId = clinic.Admin.ClinicId }));
    }

    [Fact]
    public async Task Dates_outside_the_doctors_hours_are_conflicts_unless_an_admin_allows_them()
    {
        var admin = await RegisterClinicInZoneAsync(Berlin, "DE");
        var staff = await AddUserAsync(admin, "staff");
        var doctor = await InsertDoctorAsync(admin.ClinicId);
        var first = Ahead(3);
        var weekday = first.DayOfWeek == DayOfWeek.Sunday ? 7 : (int)first.DayOfWeek;
        await InsertWeeklyHoursAsync(admin.ClinicId, doctor, (weekday, "08:00", "12:00"));
        var patient = await CreatePatientAsync(admin);
        var body = Series(doctor, patient, BerlinAt(first, 9), "FREQ=DAILY;COUNT=3");

        var refused = await ErrorAsync(await PostAsync(staff, body, HttpStatusCode.Conflict), ErrorCodes.Conflict);
        Assert.Equal(2, refused.Details!.Count);
        await ErrorAsync(await PostAsync(staff, Series(doctor, patient, BerlinAt(first, 9), "FREQ=DAILY;COUNT=3", allowOutsideSchedule: true),
            HttpStatusCode.Forbidden), ErrorCodes.Forbidden);
        Assert.Empty(await StoredAsync(admin.ClinicId));

        var allowed = await (await PostAsync(admin, Series(doctor, patient, BerlinAt(first, 9), "FREQ=DAILY;COUNT=3", allowOutsideSchedule: true),
            HttpStatusCode.Created)).ReadAsJsonAsync<CreateAppointmentSeries.Response>();
        Assert.Equal([false, true, true], allowed.Appointments.Select(a => a.OutsideSchedule));
        Assert.Equal([false, true, true], (await StoredAsync(admin.ClinicId)).Select(s => s.OutsideSchedule));
    }

    [Fact]
    public async Task Refuses_a_blocked_patient()
    {
        var clinic = await ArrangeAsync();
        await App.ExecuteAsync("update patients set blocked = true, blocked_reason = 'x', blocked_at = now() where id = @id",
            new { id = clinic.PatientId });

        var result = await PostAsync(clinic.Admin, Series(clinic.DoctorId, clinic.PatientId, BerlinAt(Ahead(3), 9), "FREQ=WEEKLY;COUNT=2"),
            HttpStatusCode.Conflict);

        await ErrorAsync(result, ErrorCodes.PatientBlocked);
        Assert.Empty(await StoredAsync(clinic.Admin.ClinicId));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Post.Json(Series(Guid.NewGuid(), Guid.NewGuid(), BerlinAt(Ahead(3), 9), "FREQ=WEEKLY;COUNT=2"))
            .ToUrl("/api/appointments/series"));
    }

    [Fact]
    public async Task Refuses_a_user_without_a_clinic()
    {
        var solo = await RegisterWithoutClinicAsync();

        var result = await PostAsync(solo, Series(Guid.NewGuid(), Guid.NewGuid(), BerlinAt(Ahead(3), 9), "FREQ=WEEKLY;COUNT=2"),
            HttpStatusCode.Forbidden);

        await ErrorAsync(result, ErrorCodes.Forbidden);
    }

    [Fact]
    public async Task Another_clinics_doctor_or_patient_is_not_found_and_nothing_is_booked()
    {
        var a = await ArrangeAsync();
        var b = await ArrangeAsync();
        var start = BerlinAt(Ahead(3), 9);

        await ErrorAsync(await PostAsync(a.Admin, Series(a.DoctorId, b.PatientId, start, "FREQ=WEEKLY;COUNT=2"), HttpStatusCode.NotFound),
            ErrorCodes.NotFound);
        await ErrorAsync(await PostAsync(a.Admin, Series(b.DoctorId, a.PatientId, start, "FREQ=WEEKLY;COUNT=2"), HttpStatusCode.NotFound),
            ErrorCodes.NotFound);

        Assert.Empty(await StoredAsync(a.Admin.ClinicId));
        Assert.Empty(await StoredAsync(b.Admin.ClinicId));
    }

    [Theory]
    [InlineData("recurrence", "FREQ=YEARLY;COUNT=2")]
    [InlineData("recurrence", "FREQ=WEEKLY;COUNT=53")]
    [InlineData("recurrence", "FREQ=WEEKLY")]
    [InlineData("recurrence", "FREQ=DAILY;COUNT=3;UNTIL=20990101T000000Z")]
    [InlineData("recurrence", "FREQ=DAILY;UNTIL=20990101T000000Z")]
    [InlineData("recurrence", "FREQ=DAILY;BYHOUR=9,10;COUNT=3")]
    [InlineData("recurrence", "not a rule")]
    [InlineData("recurrence", "")]
    [InlineData("mode", "FREQ=WEEKLY;COUNT=2")]
    [InlineData("doctorId", "FREQ=WEEKLY;COUNT=2")]
    public async Task Rejects_invalid_input_with_details(string field, string recurrence)
    {
        var clinic = await ArrangeAsync();
        var start = BerlinAt(Ahead(3), 9);
        object body = field switch
        {
            "mode" => Series(clinic.DoctorId, clinic.PatientId, start, recurrence, "sometimes"),
            "doctorId" => new { patientId = clinic.PatientId, startsAt = start, durationMinutes = 30, recurrence },
            _ => Series(clinic.DoctorId, clinic.PatientId, start, recurrence),
        };

        await AssertInvalidAsync(field, s =>
        {
            s.Post.Json(body).ToUrl("/api/appointments/series");
            s.WithBearerToken(clinic.Admin.Token);
        });
        Assert.Empty(await StoredAsync(clinic.Admin.ClinicId));
    }

    [Fact]
    public async Task A_series_is_idempotent_with_a_key()
    {
        var clinic = await ArrangeAsync();
        var body = Series(clinic.DoctorId, clinic.PatientId, BerlinAt(Ahead(3), 9), "FREQ=WEEKLY;COUNT=3");
        var key = Guid.NewGuid().ToString();

        Task<IScenarioResult> SendAsync() => Host.Scenario(s =>
        {
            s.Post.Json(body).ToUrl("/api/appointments/series");
            s.WithBearerToken(clinic.Admin.Token);
            s.WithRequestHeader(Idempotency.Header, key);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });

        var first = await SendAsync();
        var retry = await SendAsync();

        Assert.Equal("true", retry.Context.Response.Headers[Idempotency.ReplayedHeader].ToString());
        Assert.Equal(await first.ReadAsTextAsync(), await retry.ReadAsTextAsync());
        Assert.Equal(3, (await StoredAsync(clinic.Admin.ClinicId)).Count);
    }
}
