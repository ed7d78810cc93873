using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.WhatsApp;

/// <summary>VerifyWhatsAppWebhook: Meta's handshake answers the challenge only for the platform's verify token.</summary>
public sealed class VerifyWhatsAppWebhookTests(AppFixture app) : ApiTest(app)
{
    [Fact]
    public async Task Answers_the_challenge_for_the_right_token()
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url($"/api/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token={AppFixture.WhatsAppVerifyToken}&hub.challenge=1158201444");
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        Assert.Equal("1158201444", await result.ReadAsTextAsync());
        Assert.StartsWith("text/plain", result.Context.Response.ContentType, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=42")]
    [InlineData("hub.mode=unsubscribe&hub.verify_token=" + AppFixture.WhatsAppVerifyToken + "&hub.challenge=42")]
    [InlineData("hub.verify_token=" + AppFixture.WhatsAppVerifyToken + "&hub.challenge=42")]
    public async Task Refuses_a_wrong_token_or_mode(string query)
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/webhooks/whatsapp?" + query);
            s.StatusCodeShouldBe(HttpStatusCode.Forbidden);
        });

        var error = await ErrorAsync(result, ErrorCodes.Forbidden);
        Assert.DoesNotContain("42", error.Error, StringComparison.Ordinal);
    }
}
