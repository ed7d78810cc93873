using System.Net;
using ClinicFlow.Slices.Waitlist;
using Microsoft.Extensions.DependencyInjection;

namespace ClinicFlow.Tests.Support;

/// <summary>
/// Base of the waitlist tests: entries made through the real API, appointments cancelled through
/// the real API, patients answering over the signed webhook, and the rows the machine leaves behind.
/// </summary>
public abstract class WaitlistTest(AppFixture app) : WhatsAppTest(app)
{
    /// <summary>An offer as the database holds it.</summary>
    public sealed record OfferRow(Guid Id, Guid EntryId, Guid DoctorId, DateTimeOffset StartsAt, DateTimeOffset EndsAt, string Status,
        DateTimeOffset ExpiresAt, Guid? MessageId, Guid? AppointmentId, DateTimeOffset CreatedAt);

    protected ExpireWaitlistOffers Expiry => Host.Services.GetRequiredService<ExpireWaitlistOffers>();

    /// <summary>POST /api/waitlist as <paramref name="account"/>; answers the created entry.</summary>
    protected async Task<CreateWaitlistEntry.Response> JoinAsync(Account account, Guid patientId, Guid? doctorId, DateTimeOffset from,
        DateTimeOffset to, int durationMinutes = 30, string? note = null)
    {
        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new CreateWaitlistEntry.Request(patientId, doctorId, from, to, durationMinutes, note)).ToUrl("/api/waitlist");
            s.WithBearerToken(account.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        return await result.ReadAsJsonAsync<CreateWaitlistEntry.Response>();
    }

    /// <summary>PATCH /api/appointments/{id} to <paramref name="status"/> (cancelled frees the slot).</summary>
    protected Task CancelAppointmentAsync(Account account, Guid appointmentId, string status = "cancelled") =>
        Host.Scenario(s =>
        {
            s.Patch.Json(new { status }).ToUrl($"/api/appointments/{appointmentId}");
            s.WithBearerToken(account.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

    /// <summary>A patient's WhatsApp message through the signed webhook; answers Meta's id of it.</summary>
    protected async Task<string> ReplyAsync(string phoneNumberId, string from, string text, string? contextId = null)
    {
        var messageId = $"wamid.in-{Guid.NewGuid():N}";
        await PostWebhookAsync(InboundJson(phoneNumberId, from, messageId, text, contextId));
        return messageId;
    }

    /// <summary>Waits (bounded) until the worker handled the inbound message; answers its outcome.</summary>
    protected async Task<string> HandledAsync(string messageId)
    {
        await WaitUntilAsync(async () => await App.ScalarAsync<string>(
            "select status from whatsapp_inbound where message_id = @messageId", new { messageId }) == "done", "inbound handled");
        return await App.ScalarAsync<string>("select outcome from whatsapp_inbound where message_id = @messageId", new { messageId });
    }

    protected async Task<IReadOnlyList<OfferRow>> OffersOfAsync(Guid entryId) => await App.QueryAsync<OfferRow>("""
        select id, entry_id, doctor_id, starts_at, ends_at, status, expires_at, message_id, appointment_id, created_at
        from waitlist_offers where entry_id = @entryId order by id
        """, new { entryId });

    protected Task<string> EntryStatusAsync(Guid entryId) =>
        App.ScalarAsync<string>("select status from waitlist_entries where id = @entryId", new { entryId });

    /// <summary>Waits (bounded) until the offer's WhatsApp message left; answers Meta's id of it (what a reply quotes).</summary>
    protected async Task<string> SentOfferMessageAsync(Guid offerId)
    {
        await WaitUntilAsync(async () => (await App.QueryAsync<string>("""
            select m.status from outbox_messages m join waitlist_offers o on o.message_id = m.id where o.id = @offerId
            """, new { offerId })).SingleOrDefault() == "sent", "offer message sent");
        return await App.ScalarAsync<string>("""
            select m.provider_message_id from outbox_messages m join waitlist_offers o on o.message_id = m.id where o.id = @offerId
            """, new { offerId });
    }
}
