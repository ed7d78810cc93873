using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Clinics;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Practice;

/// <summary>GET /api/practice, served by <see cref="GetCurrentClinic"/> under its second path.</summary>
public sealed class GetPracticeTests(AppFixture app) : ApiTest(app)
{
    [Fact]
    public async Task Returns_the_callers_practice()
    {
        var admin = await RegisterClinicAsync("Praxis am Markt", "AT");
        var doctor = await AddUserAsync(admin, "doctor");

        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/practice");
            s.WithBearerToken(doctor.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var practice = await result.ReadAsJsonAsync<GetCurrentClinic.Response>();
        Assert.Equal(admin.ClinicId, practice.Id);
        Assert.Equal("Praxis am Markt", practice.Name);
        Assert.Equal("Europe/Vienna", practice.Timezone);
        Assert.Equal("EUR", practice.Currency);
        Assert.Equal("de", practice.Locale);
        Assert.Equal("pro", practice.Plan);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s =>
        {
            s.Get.Url("/api/practice");
        });
    }

    [Fact]
    public async Task Tells_a_user_without_a_practice_to_create_one_first()
    {
        var solo = await RegisterWithoutClinicAsync();

        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/practice");
            s.WithBearerToken(solo.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Forbidden);
        });

        await ErrorAsync(result, ErrorCodes.Forbidden);
    }
}
