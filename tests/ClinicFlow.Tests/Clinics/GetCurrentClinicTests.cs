using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Clinics;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Clinics;

public sealed class GetCurrentClinicTests(AppFixture app) : ApiTest(app)
{
    private static readonly int[] DefaultReminders = [24, 2];

    [Fact]
    public async Task Returns_the_callers_clinic_to_any_member()
    {
        var admin = await RegisterClinicAsync("Clínica Belgrano", "AR");
        var staff = await AddUserAsync(admin, "staff");

        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/clinics/current");
            s.WithBearerToken(staff.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var clinic = await result.ReadAsJsonAsync<GetCurrentClinic.Response>();
        Assert.Equal(admin.ClinicId, clinic.Id);
        Assert.Equal("Clínica Belgrano", clinic.Name);
        Assert.Equal("America/Argentina/Buenos_Aires", clinic.Timezone);
        Assert.Equal("AR", clinic.Country);
        Assert.Equal("ARS", clinic.Currency);
        Assert.Equal("es", clinic.Locale);
        Assert.Equal("pro", clinic.Plan);
        Assert.Equal("trialing", clinic.SubscriptionStatus);
        Assert.NotNull(clinic.SubscriptionExpiresAt);
        Assert.Equal(DefaultReminders, clinic.ReminderHours);
        Assert.False(clinic.IcsShowPatientNames);
        Assert.Equal(30, clinic.OfferMinutes);
        Assert.True(clinic.Active);
    }

    [Fact]
    public async Task Answers_with_the_contract_field_names()
    {
        var admin = await RegisterClinicAsync();

        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/clinics/current");
            s.WithBearerToken(admin.Token);
        });

        var body = await result.ReadAsTextAsync();
        foreach (var field in new[] { "id", "name", "timezone", "country", "currency", "locale", "phone", "address", "plan",
                     "subscriptionStatus", "subscriptionExpiresAt", "reminderHours", "icsShowPatientNames" })
        {
            Assert.Contains($"\"{field}\":", body, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s =>
        {
            s.Get.Url("/api/clinics/current");
        });
    }

    [Fact]
    public async Task Refuses_a_user_without_a_clinic()
    {
        var solo = await RegisterWithoutClinicAsync();

        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/clinics/current");
            s.WithBearerToken(solo.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Forbidden);
        });

        await ErrorAsync(result, ErrorCodes.Forbidden);
    }
}
