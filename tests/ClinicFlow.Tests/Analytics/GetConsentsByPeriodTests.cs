using System.Net;
using ClinicFlow.Slices.Analytics;
using ClinicFlow.Tests.Consent;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Analytics;

public sealed class GetConsentsByPeriodTests(AppFixture app) : ApiTest(app)
{
    [Fact]
    public async Task Lists_every_day_of_the_window_in_the_clinics_zone_with_empty_days_as_zero()
    {
        var admin = await RegisterClinicAsync("Praxis", "DE");
        using var key = PracticeKey.NewEc();
        var day = ConsentAnalyticsTestData.WinterDay();
        await App.SeedAsync(Host, admin, key, day);
        // 23:30 UTC on the day before is 00:30 in Berlin: it belongs to the local day.
        var lateEvening = new DateTimeOffset(day.AddDays(-1).ToDateTime(new TimeOnly(23, 30)), TimeSpan.Zero);
        await App.ExecuteAsync("""
            update consent_forms set created_at = @lateEvening
            where id = (select id from consent_forms where clinic_id = @ClinicId and type = 'data_processing')
            """, new { lateEvening, admin.ClinicId });

        var result = await Host.Scenario(s =>
        {
            s.Get.Url($"/api/analytics/by-period?period=day&from={day.AddDays(-1):yyyy-MM-dd}&to={day.AddDays(1):yyyy-MM-dd}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var byPeriod = await result.ReadAsJsonAsync<GetConsentsByPeriod.Response>();
        Assert.Equal("day", byPeriod.Period);
        Assert.Equal([day.AddDays(-1), day, day.AddDays(1)], byPeriod.Buckets.Select(b => b.Start));
        Assert.Equal([0, 5, 0], byPeriod.Buckets.Select(b => b.Sent));
        Assert.Equal(2, byPeriod.Buckets[1].Submitted + byPeriod.Buckets[1].Revoked);
        Assert.Equal(3 * 3600, byPeriod.Buckets[1].MedianSecondsToSubmit);
    }

    [Fact]
    public async Task Groups_by_iso_week_and_by_month()
    {
        var admin = await RegisterClinicAsync("Praxis", "DE");
        using var key = PracticeKey.NewEc();
        var day = ConsentAnalyticsTestData.WinterDay();
        await App.SeedAsync(Host, admin, key, day);

        var weeks = await (await Host.Scenario(s =>
        {
            s.Get.Url($"/api/analytics/by-period?period=week&from={day.AddDays(-14):yyyy-MM-dd}&to={day:yyyy-MM-dd}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        })).ReadAsJsonAsync<GetConsentsByPeriod.Response>();
        Assert.All(weeks.Buckets, b => Assert.Equal(DayOfWeek.Monday, b.Start.DayOfWeek));
        Assert.Equal(4, weeks.Buckets[^1].Sent);

        var months = await (await Host.Scenario(s =>
        {
            s.Get.Url($"/api/analytics/by-period?period=month&from={day.AddDays(-20):yyyy-MM-dd}&to={day.AddDays(1):yyyy-MM-dd}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        })).ReadAsJsonAsync<GetConsentsByPeriod.Response>();
        Assert.Equal([new DateOnly(day.Year - 1, 12, 1), new DateOnly(day.Year, 1, 1)], months.Buckets.Select(b => b.Start));
        Assert.Equal([0, 5], months.Buckets.Select(b => b.Sent));
    }

    [Fact]
    public async Task Rejects_an_unknown_period_with_details()
    {
        var admin = await RegisterClinicAsync();

        await AssertInvalidAsync("period", s =>
        {
            s.Get.Url("/api/analytics/by-period?period=year");
            s.WithBearerToken(admin.Token);
        });
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Get.Url("/api/analytics/by-period?period=day"));
    }

    [Fact]
    public async Task Refuses_reception_staff()
    {
        await AssertRefusedForRoleAsync("staff", s => s.Get.Url("/api/analytics/by-period?period=day"));
    }
}
