using System.Net;
using ClinicFlow.Slices.Analytics;
using ClinicFlow.Tests.Consent;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Analytics;

public sealed class GetConsentsByTypeTests(AppFixture app) : ApiTest(app)
{
    [Fact]
    public async Task Counts_each_type_most_sent_first()
    {
        var admin = await RegisterClinicAsync("Praxis", "DE");
        using var key = PracticeKey.NewEc();
        var day = ConsentAnalyticsTestData.WinterDay();
        await App.SeedAsync(Host, admin, key, day);

        var result = await Host.Scenario(s =>
        {
            s.Get.Url($"/api/analytics/by-type?from={day:yyyy-MM-dd}&to={day.AddDays(1):yyyy-MM-dd}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var byType = await result.ReadAsJsonAsync<GetConsentsByType.Response>();
        Assert.Equal(["photo", "treatment", "data_processing"], byType.Items.Select(i => i.Type));
        var treatment = byType.Items.Single(i => i.Type == "treatment");
        Assert.Equal((2, 2, 1, 0, 1, 0), (treatment.Sent, treatment.Opened, treatment.Submitted, treatment.Pending, treatment.Revoked, treatment.Expired));
        Assert.Equal(3 * 3600, treatment.MedianSecondsToSubmit);
        var photo = byType.Items.Single(i => i.Type == "photo");
        Assert.Equal((2, 1, 1, 1), (photo.Sent, photo.Opened, photo.Pending, photo.Expired));
        Assert.Null(photo.MedianSecondsToSubmit);
    }

    [Fact]
    public async Task Shows_nothing_of_another_clinic()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync();
        using var key = PracticeKey.NewEc();
        await Host.PatientWithFormAsync(other, key);

        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/analytics/by-type");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        Assert.Empty((await result.ReadAsJsonAsync<GetConsentsByType.Response>()).Items);
    }

    [Fact]
    public async Task Rejects_a_malformed_date_with_details()
    {
        var admin = await RegisterClinicAsync();

        await AssertInvalidAsync("from", s =>
        {
            s.Get.Url("/api/analytics/by-type?from=yesterday");
            s.WithBearerToken(admin.Token);
        });
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Get.Url("/api/analytics/by-type"));
    }

    [Fact]
    public async Task Refuses_reception_staff()
    {
        await AssertRefusedForRoleAsync("staff", s => s.Get.Url("/api/analytics/by-type"));
    }
}
