using System.Net;
using ClinicFlow.Slices.Clinics;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Clinics;

/// <summary>GetWhatsAppConfig: the clinic's Cloud API number, never its access token.</summary>
public sealed class GetWhatsAppConfigTests(AppFixture app) : WhatsAppTest(app)
{
    [Fact]
    public async Task Answers_not_configured_before_setup()
    {
        var admin = await RegisterClinicAsync();

        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/clinics/current/whatsapp");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var config = await result.ReadAsJsonAsync<GetWhatsAppConfig.Response>();
        Assert.False(config.Configured);
        Assert.False(config.Enabled);
        Assert.Null(config.PhoneNumberId);
        Assert.Equal(AppFixture.PublicBaseUrl + "/api/webhooks/whatsapp", config.WebhookUrl);
    }

    [Fact]
    public async Task Shows_the_configuration_but_never_the_access_token()
    {
        var admin = await RegisterClinicAsync();
        var phoneNumberId = await EnableWhatsAppAsync(admin);

        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/clinics/current/whatsapp");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var text = await result.ReadAsTextAsync();
        Assert.DoesNotContain(AccessToken, text, StringComparison.Ordinal);
        Assert.DoesNotContain("v1.", text, StringComparison.Ordinal);
        var config = await result.ReadAsJsonAsync<GetWhatsAppConfig.Response>();
        Assert.True(config.Configured);
        Assert.True(config.Enabled);
        Assert.True(config.HasAccessToken);
        Assert.Equal(phoneNumberId, config.PhoneNumberId);
        Assert.Equal("2233445566", config.BusinessAccountId);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Get.Url("/api/clinics/current/whatsapp"));
    }

    [Theory]
    [InlineData("doctor")]
    [InlineData("staff")]
    public async Task Refuses_non_admins(string role)
    {
        await AssertRefusedForRoleAsync(role, s => s.Get.Url("/api/clinics/current/whatsapp"));
    }
}
