using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Analytics;
using ClinicFlow.Tests.Consent;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Analytics;

public sealed class GetConsentOverviewTests(AppFixture app) : ApiTest(app)
{
    [Fact]
    public async Task Counts_the_forms_sent_in_the_window_by_status_with_the_median_time_to_submit()
    {
        var admin = await RegisterClinicAsync("Praxis", "DE");
        var doctor = await AddUserAsync(admin, "doctor");
        using var key = PracticeKey.NewEc();
        var day = ConsentAnalyticsTestData.WinterDay();
        await App.SeedAsync(Host, admin, key, day);

        var result = await Host.Scenario(s =>
        {
            s.Get.Url($"/api/analytics/overview?from={day:yyyy-MM-dd}&to={day:yyyy-MM-dd}");
            s.WithBearerToken(doctor.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var overview = await result.ReadAsJsonAsync<GetConsentOverview.Response>();
        Assert.Equal("Europe/Berlin", overview.Timezone);
        Assert.Equal((4, 3, 1, 1, 1, 1), (overview.Sent, overview.Opened, overview.Submitted, overview.Pending, overview.Revoked, overview.Expired));
        Assert.Equal(3 * 3600, overview.MedianSecondsToSubmit);

        var twoDays = await (await Host.Scenario(s =>
        {
            s.Get.Url($"/api/analytics/overview?from={day:yyyy-MM-dd}&to={day.AddDays(1):yyyy-MM-dd}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        })).ReadAsJsonAsync<GetConsentOverview.Response>();
        Assert.Equal(5, twoDays.Sent);
        Assert.Equal(2, twoDays.Pending);
    }

    [Fact]
    public async Task Defaults_to_the_last_30_days_of_the_own_clinic_on_every_plan()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync();
        await App.ExecuteAsync("update clinics set plan = 'basic' where id = @ClinicId", new { admin.ClinicId });
        using var key = PracticeKey.NewEc();
        using var otherKey = PracticeKey.NewEc();
        await Host.PatientWithFormAsync(admin, key);
        await Host.PatientWithFormAsync(other, otherKey);

        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/analytics/overview");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var overview = await result.ReadAsJsonAsync<GetConsentOverview.Response>();
        Assert.Equal(1, overview.Sent);
        Assert.Equal(1, overview.Pending);
        Assert.Null(overview.MedianSecondsToSubmit);
        Assert.Equal(29, overview.To.DayNumber - overview.From.DayNumber);
    }

    [Fact]
    public async Task Rejects_a_window_that_ends_before_it_starts_or_is_too_long()
    {
        var admin = await RegisterClinicAsync();

        await AssertInvalidAsync("to", s =>
        {
            s.Get.Url("/api/analytics/overview?from=2026-03-10&to=2026-03-01");
            s.WithBearerToken(admin.Token);
        });
        await AssertInvalidAsync("from", s =>
        {
            s.Get.Url("/api/analytics/overview?from=2024-01-01&to=2026-03-01");
            s.WithBearerToken(admin.Token);
        });
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Get.Url("/api/analytics/overview"));
    }

    [Fact]
    public async Task Refuses_reception_staff()
    {
        await AssertRefusedForRoleAsync("staff", s => s.Get.Url("/api/analytics/overview"));
    }
}
