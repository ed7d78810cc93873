using System.Net;
using ClinicFlow.Slices.Analytics;
using ClinicFlow.Tests.Consent;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Analytics;

public sealed class GetConsentConversionTests(AppFixture app) : ApiTest(app)
{
    [Fact]
    public async Task Shows_the_funnel_sent_opened_submitted_with_its_rates()
    {
        var admin = await RegisterClinicAsync("Praxis", "DE");
        using var key = PracticeKey.NewEc();
        var day = ConsentAnalyticsTestData.WinterDay();
        await App.SeedAsync(Host, admin, key, day);

        var result = await Host.Scenario(s =>
        {
            s.Get.Url($"/api/analytics/conversion?from={day:yyyy-MM-dd}&to={day.AddDays(1):yyyy-MM-dd}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var funnel = await result.ReadAsJsonAsync<GetConsentConversion.Response>();
        Assert.Equal((5, 3, 2), (funnel.Sent, funnel.Opened, funnel.Submitted));
        Assert.Equal(0.6, funnel.OpenRate);
        Assert.Equal(0.4, funnel.SubmitRate);
        Assert.Equal(0.6667, funnel.SubmittedOfOpened);
    }

    [Fact]
    public async Task Answers_zero_rates_for_a_clinic_without_forms()
    {
        var admin = await RegisterClinicAsync();

        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/analytics/conversion");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var funnel = await result.ReadAsJsonAsync<GetConsentConversion.Response>();
        Assert.Equal((0, 0.0, 0.0), (funnel.Sent, funnel.OpenRate, funnel.SubmitRate));
    }

    [Fact]
    public async Task Rejects_an_inverted_window_with_details()
    {
        var admin = await RegisterClinicAsync();

        await AssertInvalidAsync("to", s =>
        {
            s.Get.Url("/api/analytics/conversion?from=2026-02-01&to=2026-01-01");
            s.WithBearerToken(admin.Token);
        });
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Get.Url("/api/analytics/conversion"));
    }

    [Fact]
    public async Task Refuses_reception_staff()
    {
        await AssertRefusedForRoleAsync("staff", s => s.Get.Url("/api/analytics/conversion"));
    }
}
