using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;

namespace ClinicFlow.Infrastructure;

/// <summary>The platform's one Meta app (SPEC §4): the webhook's secrets and the Graph API base.</summary>
public sealed class WhatsAppOptions
{
    /// <summary>The token Meta echoes in the webhook handshake; empty refuses every handshake.</summary>
    public string VerifyToken { get; set; } = "";

    /// <summary>The app secret that signs webhook bodies (X-Hub-Signature-256); empty refuses every delivery.</summary>
    public string AppSecret { get; set; } = "";

    public string GraphBaseUrl { get; set; } = "https://graph.facebook.com/v21.0";

    /// <summary>How often the inbound worker looks for messages when nothing wakes it.</summary>
    public double InboxPollSeconds { get; set; } = 5;

    public int InboxMaxAttempts { get; set; } = 5;

    public double SendTimeoutSeconds { get; set; } = 15;
}

/// <summary>What a WhatsApp outbox row carries: the text, and the approved template Meta requires outside the 24-hour window.</summary>
public sealed record WhatsAppPayload(string Text, WhatsAppTemplate? Template, string? ReplyTo);

public sealed record WhatsAppTemplate(string Name, string Language, IReadOnlyList<string> Parameters);

/// <summary>Thrown by a channel when a claimed message must not go out (cancelled meanwhile, patient blocked) or can never go.</summary>
public sealed class OutboxDropException(string reason, bool permanentFailure = false) : Exception(reason)
{
    /// <summary>True: the message is given up as failed; false: it is cancelled.</summary>
    public bool PermanentFailure { get; } = permanentFailure;
}

public static class WhatsAppApi
{
    public const string Channel = "whatsapp";

    /// <summary>The sealing context of a clinic's access token: a ciphertext opens only for its own clinic.</summary>
    public static string TokenContext(Guid clinicId) => $"whatsapp_configs:{clinicId}";

    public static IServiceCollection AddWhatsApp(this IServiceCollection services)
    {
        services.AddOptions<WhatsAppOptions>().BindConfiguration("WhatsApp");
        services.AddHttpClient(Channel);
        services.AddSingleton<IOutboxChannel, WhatsAppChannel>();
        return services;
    }

    /// <summary>
    /// Checks Meta's <c>X-Hub-Signature-256: sha256=&lt;hex&gt;</c> over the raw body, in constant time.
    /// An empty secret verifies nothing.
    /// </summary>
    public static bool IsSignatureValid(ReadOnlySpan<byte> body, string? header, string appSecret)
    {
        const string prefix = "sha256=";
        if (string.IsNullOrEmpty(appSecret) || header is null || !header.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)
            || header.Length != prefix.Length + 64)
        {
            return false;
        }

        byte[] given;
        try
        {
            given = Convert.FromHexString(header.AsSpan(prefix.Length));
        }
        catch (FormatException)
        {
            return false;
        }

        var expected = HMACSHA256.HashData(Encoding.UTF8.GetBytes(appSecret), body);
        return CryptographicOperations.FixedTimeEquals(expected, given);
    }

    /// <summary>Constant-time comparison of two secrets given as text.</summary>
    public static bool SecretEquals(string? given, string expected) =>
        !string.IsNullOrEmpty(expected) && given is not null
        && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), Encoding.UTF8.GetBytes(expected));
}

/// <summary>
/// The WhatsApp channel: posts to <c>{GraphBaseUrl}/{phoneNumberId}/messages</c> with the clinic's
/// access token, opened from its sealed copy only for the request. Right before sending it checks
/// that the message is still wanted (not cancelled, patient neither blocked nor erased, a reminder's
/// appointment still ahead, a waitlist offer still open), so a change committed after the claim
/// still stops it.
/// </summary>
public sealed class WhatsAppChannel(
    NpgsqlDataSource db,
    IHttpClientFactory http,
    SecretBox secrets,
    IOptions<WhatsAppOptions> options) : IOutboxChannel
{
    private const string ContextSql = """
        select w.phone_number_id, w.access_token_sealed, coalesce(w.enabled, false) as enabled, m.status,
               (m.patient_id is null or exists (
                   select 1 from patients p
                   where p.clinic_id = m.clinic_id and p.id = m.patient_id and not p.blocked and p.erased_at is null)) as patient_ok,
               (m.kind is distinct from 'reminder' or exists (
                   select 1 from appointments a
                   where a.clinic_id = m.clinic_id and a.id = m.appointment_id
                     and a.status in ('scheduled', 'confirmed') and a.starts_at > now())) as appointment_ok,
               (m.kind is distinct from 'waitlist_offer' or exists (
                   select 1 from waitlist_offers o
                   where o.clinic_id = m.clinic_id and o.message_id = m.id
                     and o.status = 'offered' and o.expires_at > now())) as offer_ok
        from outbox_messages m
        left join whatsapp_configs w on w.clinic_id = m.clinic_id
        where m.id = @Id
        """;

    private sealed record SendContext(string? PhoneNumberId, string? AccessTokenSealed, bool Enabled, string Status, bool PatientOk,
        bool AppointmentOk, bool OfferOk);

    public string Name => WhatsAppApi.Channel;

    public async Task<string?> SendAsync(OutboxMessage message, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (message.ClinicId is not { } clinicId)
        {
            throw new OutboxDropException("A WhatsApp message needs a clinic.", permanentFailure: true);
        }

        SendContext? context;
        await using (var system = await SystemConnection.BeginAsync(db, ct))
        {
            context = await system.Connection.QuerySingleOrDefaultAsync<SendContext>(
                new CommandDefinition(ContextSql, new { message.Id }, system.Transaction, cancellationToken: ct));
            await system.Transaction.CommitAsync(ct);
        }

        if (context is null || context.Status != "sending")
        {
            throw new OutboxDropException("The message was cancelled.");
        }

        if (!context.PatientOk)
        {
            throw new OutboxDropException("The patient is blocked or erased.");
        }

        if (!context.AppointmentOk)
        {
            throw new OutboxDropException("The appointment is no longer ahead.");
        }

        if (!context.OfferOk)
        {
            throw new OutboxDropException("The waitlist offer is no longer open.");
        }

        if (!context.Enabled || context.PhoneNumberId is null || context.AccessTokenSealed is null)
        {
            throw new InvalidOperationException("WhatsApp is not set up or is disabled for this clinic.");
        }

        var token = secrets.Open(context.AccessTokenSealed, WhatsAppApi.TokenContext(clinicId))
            ?? throw new OutboxDropException("The clinic's access token cannot be opened with the current key.", permanentFailure: true);
        var payload = JsonSerializer.Deserialize<WhatsAppPayload>(message.Payload, Outbox.PayloadJson)
            ?? throw new OutboxDropException("Empty WhatsApp payload.", permanentFailure: true);

        var settings = options.Value;
        using var client = http.CreateClient(WhatsAppApi.Channel);
        client.Timeout = TimeSpan.FromSeconds(settings.SendTimeoutSeconds);
        var url = $"{settings.GraphBaseUrl.TrimEnd('/')}/{Uri.EscapeDataString(context.PhoneNumberId)}/messages";
        using var request = new HttpRequestMessage(HttpMethod.Post, url)
        {
            Content = new StringContent(Body(message.Recipient, payload).ToJsonString(), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await client.SendAsync(request, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        if (!response.IsSuccessStatusCode)
        {
            var error = $"Graph API answered {(int)response.StatusCode}: {ErrorOf(text)}";
            // A request Meta refuses as such (bad number, unknown template) fails the same way every time.
            if ((int)response.StatusCode is 400 or 404)
            {
                throw new OutboxDropException(error, permanentFailure: true);
            }

            throw new HttpRequestException(error);
        }

        return MessageIdOf(text) ?? throw new HttpRequestException("Graph API answered without a message id.");
    }

    /// <summary>The Cloud API's send body: a template where Meta requires one, else a text (a reply quotes the message it answers).</summary>
    public static JsonObject Body(string recipient, WhatsAppPayload payload)
    {
        ArgumentNullException.ThrowIfNull(recipient);
        ArgumentNullException.ThrowIfNull(payload);
        var body = new JsonObject
        {
            ["messaging_product"] = "whatsapp",
            ["recipient_type"] = "individual",
            ["to"] = recipient.TrimStart('+'),
        };
        if (payload.Template is { } template)
        {
            body["type"] = "template";
            body["template"] = new JsonObject
            {
                ["name"] = template.Name,
                ["language"] = new JsonObject { ["code"] = template.Language },
                ["components"] = new JsonArray(new JsonObject
                {
                    ["type"] = "body",
                    ["parameters"] = new JsonArray(template.Parameters
                        .Select(p => (JsonNode)new JsonObject { ["type"] = "text", ["text"] = p }).ToArray()),
                }),
            };
        }
        else
        {
            body["type"] = "text";
            body["text"] = new JsonObject { ["preview_url"] = false, ["body"] = payload.Text };
        }

        if (payload.ReplyTo is { } replyTo)
        {
            body["context"] = new JsonObject { ["message_id"] = replyTo };
        }

        return body;
    }

    private static string? MessageIdOf(string json)
    {
        try
        {
            return JsonNode.Parse(json)?["messages"]?[0]?["id"]?.GetValue<string>();
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string ErrorOf(string json)
    {
        try
        {
            var message = JsonNode.Parse(json)?["error"]?["message"]?.GetValue<string>();
            return message ?? "no error message";
        }
        catch (JsonException)
        {
            return "no error message";
        }
    }
}
