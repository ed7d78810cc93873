using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.WhatsApp;

/// <summary>ReceiveWhatsAppWebhook: signed deliveries only, each inbound message once, status callbacks recorded.</summary>
public sealed class ReceiveWhatsAppWebhookTests(AppFixture app) : WhatsAppTest(app)
{
    private Task<int> InboundCountAsync(string messageId) =>
        App.ScalarAsync<int>("select count(*)::int from whatsapp_inbound where message_id = @messageId", new { messageId });

    [Fact]
    public async Task Stores_a_signed_message_and_the_worker_answers_it()
    {
        var admin = await RegisterClinicAsync();
        var phoneNumberId = await EnableWhatsAppAsync(admin);
        var messageId = $"wamid.in-{Guid.NewGuid():N}";

        await PostWebhookAsync(InboundJson(phoneNumberId, "5491100001111", messageId, "Hola"));

        Assert.Equal(admin.ClinicId, await App.ScalarAsync<Guid>("select clinic_id from whatsapp_inbound where message_id = @messageId",
            new { messageId }));
        var reply = await App.Graph.WaitForAsync(r => r.PhoneNumberId == phoneNumberId && r.ReplyTo == messageId);
        Assert.Equal("5491100001111", reply.To);
        Assert.Equal("Bearer " + AccessToken, reply.Authorization);
        await WaitUntilAsync(async () => await App.ScalarAsync<string>(
            "select status from whatsapp_inbound where message_id = @messageId", new { messageId }) == "done", "inbound handled");
    }

    [Fact]
    public async Task Refuses_a_bad_or_missing_signature_and_stores_nothing()
    {
        var admin = await RegisterClinicAsync();
        var phoneNumberId = await EnableWhatsAppAsync(admin);
        var messageId = $"wamid.bad-{Guid.NewGuid():N}";
        var body = InboundJson(phoneNumberId, "5491100001111", messageId, "Hola");

        var tampered = await PostWebhookAsync(body, HttpStatusCode.Unauthorized, Sign(body.Replace("Hola", "Chau", StringComparison.Ordinal)));
        await ErrorAsync(tampered, ErrorCodes.InvalidSignature);
        await PostWebhookAsync(body, HttpStatusCode.Unauthorized, "sha256=" + new string('0', 64));
        var missing = await Host.Scenario(s =>
        {
            s.Post.Text(body).ToUrl("/api/webhooks/whatsapp");
            s.WithRequestHeader("Content-Type", "application/json");
            s.StatusCodeShouldBe(HttpStatusCode.Unauthorized);
        });
        await ErrorAsync(missing, ErrorCodes.InvalidSignature);

        Assert.Equal(0, await InboundCountAsync(messageId));
    }

    [Fact]
    public async Task Acknowledges_an_unknown_number_and_ignores_it()
    {
        var messageId = $"wamid.unknown-{Guid.NewGuid():N}";

        await PostWebhookAsync(InboundJson(NewPhoneNumberId(), "5491100001111", messageId, "Hola"));

        Assert.Equal(0, await InboundCountAsync(messageId));
    }

    [Fact]
    public async Task Handles_a_redelivered_message_once_also_when_deliveries_race()
    {
        var admin = await RegisterClinicAsync();
        var phoneNumberId = await EnableWhatsAppAsync(admin);
        var messageId = $"wamid.twice-{Guid.NewGuid():N}";
        var body = InboundJson(phoneNumberId, "5491100002222", messageId, "¿Dónde están?");

        await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => PostWebhookAsync(body)));
        await PostWebhookAsync(body);

        Assert.Equal(1, await InboundCountAsync(messageId));
        await App.Graph.WaitForAsync(r => r.PhoneNumberId == phoneNumberId && r.ReplyTo == messageId);
        await Task.Delay(1000, Ct);
        Assert.Single(App.Graph.RequestsFor(phoneNumberId), r => r.ReplyTo == messageId);
        Assert.Equal(1, await App.ScalarAsync<int>(
            "select count(*)::int from outbox_messages where clinic_id = @ClinicId and kind = 'reply'", new { admin.ClinicId }));
    }

    [Fact]
    public async Task Records_status_callbacks_of_sent_messages_without_going_back()
    {
        var admin = await RegisterClinicAsync();
        var phoneNumberId = await EnableWhatsAppAsync(admin);
        var wamid = $"wamid.out-{Guid.NewGuid():N}";
        var id = Guid.CreateVersion7();
        await App.ExecuteAsync("""
            insert into outbox_messages (id, clinic_id, channel, recipient, payload, status, provider_message_id, sent_at, kind)
            values (@id, @ClinicId, 'whatsapp', '+5491100003333', '{"text":"x"}', 'sent', @wamid, now(), 'reply')
            """, new { id, admin.ClinicId, wamid });

        await PostWebhookAsync(StatusJson(phoneNumberId, wamid, "delivered"));
        await PostWebhookAsync(StatusJson(phoneNumberId, wamid, "read"));
        await PostWebhookAsync(StatusJson(phoneNumberId, wamid, "delivered"));

        var row = (await App.QueryAsync<(string DeliveryStatus, DateTime? DeliveredAt, DateTime? ReadAt)>(
            "select delivery_status, delivered_at, read_at from outbox_messages where id = @id", new { id }))[0];
        Assert.Equal("read", row.DeliveryStatus);
        Assert.NotNull(row.DeliveredAt);
        Assert.NotNull(row.ReadAt);
    }

    [Fact]
    public async Task Answers_invalid_json_with_a_valid_signature_as_400()
    {
        var result = await PostWebhookAsync("{\"entry\": [", HttpStatusCode.BadRequest);

        await ErrorAsync(result, ErrorCodes.InvalidJson);
    }
}
