using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Analytics;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Analytics;

/// <summary>GET /api/analytics (<see cref="GetAnalytics"/>).</summary>
public sealed class GetAnalyticsTests(AppFixture app) : ClinicalTest(app)
{
    private static DateTimeOffset Utc(string instant) => DateTimeOffset.Parse(instant, System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// A small Berlin clinic over Sat 24 – Mon 26 October 2026; clocks went back from 03:00 CEST to 02:00 CET
    /// on Sunday 25th. Every number below is worked out by hand in the comments.
    /// </summary>
    [Fact]
    public async Task Matches_a_hand_computed_clinic_across_the_autumn_dst_change()
    {
        var admin = await RegisterClinicInZoneAsync("Europe/Berlin", "DE");
        var staff = await AddUserAsync(admin, "staff");
        var c = admin.ClinicId;
        var a = await InsertDoctorAsync(c, "Dr. A");
        var b = await InsertDoctorAsync(c, "Dr. B");
        // A: Sat 09–13 (4 h), Sun 01–04 (4 h of real time: 02:00–03:00 happens twice), Mon 09–17 minus time off 12–14 (6 h) = 840 min.
        await InsertWeeklyHoursAsync(c, a, (6, "09:00", "13:00"), (7, "01:00", "04:00"), (1, "09:00", "17:00"));
        await InsertTimeOffAsync(c, a, Utc("2026-10-26T11:00:00Z"), Utc("2026-10-26T13:00:00Z"));
        // B: Mon 09–11 = 120 min.
        await InsertWeeklyHoursAsync(c, b, (1, "09:00", "11:00"));
        var p = await CreatePatientAsync(admin, "Ana");
        var p2 = await CreatePatientAsync(admin, "Bea");
        var p3 = await CreatePatientAsync(admin, "Cleo");
        await InsertAppointmentAsync(c, a, p, Utc("2026-10-24T07:00:00Z"), Utc("2026-10-24T08:00:00Z"), "completed");   // Sat 09:00 CEST, 60 min
        await InsertAppointmentAsync(c, a, p, Utc("2026-10-24T08:00:00Z"), Utc("2026-10-24T08:30:00Z"), "no_show");     // Sat 10:00 CEST, 30 min
        await InsertAppointmentAsync(c, a, p, Utc("2026-10-25T00:30:00Z"), Utc("2026-10-25T01:30:00Z"), "checked_in");  // Sun 02:30 CEST (first), 60 min
        await InsertAppointmentAsync(c, a, p, Utc("2026-10-25T23:30:00Z"), Utc("2026-10-26T00:00:00Z"), "cancelled");   // Mon 00:30 CET (UTC: Sunday)
        await InsertAppointmentAsync(c, b, p, Utc("2026-10-26T08:00:00Z"), Utc("2026-10-26T09:00:00Z"), "scheduled");   // Mon 09:00 CET, 60 min
        await InsertAppointmentAsync(c, a, p, Utc("2026-10-23T21:30:00Z"), Utc("2026-10-23T22:00:00Z"), "completed");   // Fri 23:30 CEST: before
        await InsertAppointmentAsync(c, a, p, Utc("2026-10-26T23:10:00Z"), Utc("2026-10-26T23:40:00Z"), "completed");   // Tue 00:10 CET: after
        await App.ExecuteAsync("update patients set created_at = @at where id = @p", new { at = Utc("2026-10-23T22:30:00Z"), p });       // Sat 00:30 CEST
        await App.ExecuteAsync("update patients set created_at = @at where id = @p2", new { at = Utc("2026-10-25T23:30:00Z"), p2 });    // Mon 00:30 CET
        await App.ExecuteAsync("update patients set created_at = @at where id = @p3", new { at = Utc("2026-10-23T21:30:00Z"), p3 });    // Fri: before
        // Another clinic's busy day in the same window must not count.
        var other = await RegisterClinicInZoneAsync("Europe/Berlin", "DE");
        var otherDoctor = await InsertDoctorAsync(other.ClinicId);
        await InsertAppointmentAsync(other.ClinicId, otherDoctor, await CreatePatientAsync(other), Utc("2026-10-24T07:00:00Z"), Utc("2026-10-24T08:00:00Z"), "no_show");

        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/analytics?from=2026-10-24&to=2026-10-26");
            s.WithBearerToken(staff.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var dashboard = await BodyAsync<GetAnalytics.Response>(result);
        Assert.Equal(("Europe/Berlin", 5), (dashboard.Timezone, dashboard.Appointments));
        Assert.Equal(
            ["cancelled=1", "checked_in=1", "completed=1", "confirmed=0", "no_show=1", "scheduled=1"],
            dashboard.ByStatus.Select(kv => $"{kv.Key}={kv.Value}").Order());
        Assert.Equal(0.6667, dashboard.AttendanceRate);   // (checked_in 1 + completed 1) / (those + no_show 1)
        Assert.Equal(0.3333, dashboard.NoShowRate);
        Assert.Equal(2, dashboard.NewPatients);
        var doctorA = dashboard.Doctors.Single(d => d.DoctorId == a);
        Assert.Equal((150L, 840L, 0.1786), (doctorA.BookedMinutes, doctorA.ScheduledMinutes, doctorA.Utilisation!.Value)); // 60 + 30 + 60 booked, cancelled not
        var doctorB = dashboard.Doctors.Single(d => d.DoctorId == b);
        Assert.Equal((60L, 120L, 0.5), (doctorB.BookedMinutes, doctorB.ScheduledMinutes, doctorB.Utilisation!.Value));
        Assert.Equal(
            [
                new GetAnalytics.Day(new DateOnly(2026, 10, 24), 2, 1, 1, 0, 1),
                new GetAnalytics.Day(new DateOnly(2026, 10, 25), 1, 0, 0, 0, 0),
                new GetAnalytics.Day(new DateOnly(2026, 10, 26), 2, 0, 0, 1, 1),
            ],
            dashboard.Daily);
    }

    [Fact]
    public async Task Shows_the_last_30_local_days_by_default()
    {
        var admin = await RegisterClinicAsync();

        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/analytics");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var dashboard = await BodyAsync<GetAnalytics.Response>(result);
        Assert.Equal(30, dashboard.Daily.Count);
        Assert.Equal(dashboard.To, dashboard.Daily[^1].Date);
        Assert.Null(dashboard.AttendanceRate);
        Assert.Equal(0, dashboard.Appointments);
    }

    [Fact]
    public async Task Needs_a_pro_plan()
    {
        await AssertNeedsProPlanAsync((_, _) => s => s.Get.Url("/api/analytics"));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Get.Url("/api/analytics"));
    }

    [Theory]
    [InlineData("from=2026-10-10&to=2026-10-01", "to")]
    [InlineData("from=2025-01-01&to=2026-01-02", "to")]
    [InlineData("from=yesterday", "from")]
    public async Task Rejects_a_bad_window_with_details(string query, string field)
    {
        var admin = await RegisterClinicAsync();

        await AssertInvalidAsync(field, s =>
        {
            s.Get.Url("/api/analytics?" + query);
            s.WithBearerToken(admin.Token);
        });
    }
}
