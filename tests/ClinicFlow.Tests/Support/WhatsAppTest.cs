using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace ClinicFlow.Tests.Support;

/// <summary>
/// Base of the WhatsApp tests: a clinic with WhatsApp enabled through the real API, Meta's webhook
/// bodies signed with the configured app secret, and bounded waits for the background workers.
/// </summary>
public abstract class WhatsAppTest(AppFixture app) : SchedulingTest(app)
{
    public const string AccessToken = "EAAG-test-access-token-0123456789";

    /// <summary>A phone number id of Meta's shape (digits) that no other test uses.</summary>
    protected static string NewPhoneNumberId() =>
        "1" + string.Concat(Guid.NewGuid().ToByteArray().Take(7).Select(b => (b % 10).ToString(System.Globalization.CultureInfo.InvariantCulture)))
        + DateTime.UtcNow.Ticks.ToString(System.Globalization.CultureInfo.InvariantCulture)[^8..];

    /// <summary>Turns WhatsApp on for the admin's clinic (PUT /api/clinics/current/whatsapp); answers the phone number id.</summary>
    protected async Task<string> EnableWhatsAppAsync(Account admin, IAlbaHost? host = null)
    {
        var phoneNumberId = NewPhoneNumberId();
        await (host ?? Host).Scenario(s =>
        {
            s.Put.Json(new { phoneNumberId, businessAccountId = "2233445566", accessToken = AccessToken, enabled = true })
                .ToUrl("/api/clinics/current/whatsapp");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        return phoneNumberId;
    }

    protected static string Sign(string body) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(AppFixture.WhatsAppAppSecret), Encoding.UTF8.GetBytes(body)));

    /// <summary>Posts a webhook delivery signed as Meta signs it (or with the given signature).</summary>
    protected Task<IScenarioResult> PostWebhookAsync(string body, HttpStatusCode expected = HttpStatusCode.OK, string? signature = null) =>
        Host.Scenario(s =>
        {
            s.Post.Text(body).ToUrl("/api/webhooks/whatsapp");
            s.WithRequestHeader("Content-Type", "application/json");
            s.WithRequestHeader("X-Hub-Signature-256", signature ?? Sign(body));
            s.StatusCodeShouldBe(expected);
        });

    /// <summary>Meta's shape of one inbound text message.</summary>
    protected static string InboundJson(string phoneNumberId, string from, string messageId, string text, string? contextId = null)
    {
        var message = new Dictionary<string, object>
        {
            ["from"] = from,
            ["id"] = messageId,
            ["timestamp"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["type"] = "text",
            ["text"] = new { body = text },
        };
        if (contextId is not null)
        {
            message["context"] = new { from = "15550001111", id = contextId };
        }

        return Envelope(phoneNumberId, new Dictionary<string, object>
        {
            ["contacts"] = new[] { new { profile = new { name = "Paciente" }, wa_id = from } },
            ["messages"] = new[] { message },
        });
    }

    /// <summary>Meta's shape of a status callback for a message the clinic sent.</summary>
    protected static string StatusJson(string phoneNumberId, string messageId, string status) =>
        Envelope(phoneNumberId, new Dictionary<string, object>
        {
            ["statuses"] = new[]
            {
                new
                {
                    id = messageId,
                    status,
                    timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture),
                    recipient_id = "5491122334455",
                },
            },
        });

    private static string Envelope(string phoneNumberId, Dictionary<string, object> value)
    {
        value["messaging_product"] = "whatsapp";
        value["metadata"] = new { display_phone_number = "15550001111", phone_number_id = phoneNumberId };
        return JsonSerializer.Serialize(new
        {
            @object = "whatsapp_business_account",
            entry = new[] { new { id = "2233445566", changes = new[] { new { field = "messages", value } } } },
        });
    }

    /// <summary>Polls until <paramref name="condition"/> holds (at most <paramref name="seconds"/>).</summary>
    protected static async Task WaitUntilAsync(Func<Task<bool>> condition, string what, int seconds = 15)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (DateTime.UtcNow < deadline)
        {
            if (await condition())
            {
                return;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"Timed out waiting for: {what}");
    }

    /// <summary>A patient with a phone and a bookable doctor in the clinic (open all week).</summary>
    protected async Task<(Guid DoctorId, Guid PatientId)> DoctorAndPatientAsync(Account admin, string phone = "+5491122334455",
        string patientName = "María Pérez", string doctorName = "Dra. Ana Gómez")
    {
        var doctorId = await InsertDoctorAsync(admin.ClinicId, doctorName);
        await InsertAlwaysOpenAsync(admin.ClinicId, doctorId);
        var patientId = await CreatePatientAsync(admin, patientName, phone);
        return (doctorId, patientId);
    }

    /// <summary>Books through the real API as an admin (so reminders are queued as in production; any hour of the day); answers the id.</summary>
    protected async Task<Guid> BookAsync(Account account, Guid doctorId, Guid patientId, DateTimeOffset startsAt, int minutes = 30)
    {
        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new { doctorId, patientId, startsAt, durationMinutes = minutes, allowOutsideSchedule = true }).ToUrl("/api/appointments");
            s.WithBearerToken(account.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        return JsonDocument.Parse(await result.ReadAsTextAsync()).RootElement.GetProperty("id").GetGuid();
    }
}
