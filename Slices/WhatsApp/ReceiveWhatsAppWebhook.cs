using System.Text.Json;
using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace ClinicFlow.Slices.WhatsApp;

/// <summary>
/// POST /api/webhooks/whatsapp: Meta's deliveries, signed with the platform's app secret over the raw
/// body (<c>X-Hub-Signature-256</c>). Answers fast: inbound messages are stored once by Meta's message
/// id (a redelivery, also a concurrent one, stores nothing) and handled by the background worker;
/// status callbacks move the outgoing message's delivery status. A number no clinic has enabled is
/// acknowledged and ignored.
/// </summary>
public sealed class ReceiveWhatsAppWebhook : ICarterModule
{
    private const string ClinicSql = """
        select clinic_id from whatsapp_configs where phone_number_id = @PhoneNumberId and enabled
        """;

    private const string InboundSql = """
        insert into whatsapp_inbound (id, clinic_id, message_id, from_phone, body, context_message_id, sent_at)
        values (@Id, @ClinicId, @MessageId, @From, @Body, @ContextId, @SentAt)
        on conflict (message_id) do nothing
        """;

    // Callbacks can arrive out of order: the status only moves forward (sent, failed, delivered, read).
    private const string StatusSql = """
        update outbox_messages
           set delivery_status = case
                   when coalesce(array_position(array['sent', 'failed', 'delivered', 'read'], delivery_status), 0)
                        <= array_position(array['sent', 'failed', 'delivered', 'read'], @Status)
                   then @Status else delivery_status end,
               delivered_at = case when @Status in ('delivered', 'read') then coalesce(delivered_at, @At) else delivered_at end,
               read_at = case when @Status = 'read' then coalesce(read_at, @At) else read_at end,
               last_error = case when @Status = 'failed' then @Error else last_error end,
               delivery_updated_at = now()
         where clinic_id = @ClinicId and channel = 'whatsapp' and provider_message_id = @MessageId
        """;

    private static readonly string[] Statuses = ["sent", "delivered", "read", "failed"];

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapSystemGroup("/webhooks", null)
            .MapPost("/whatsapp", Handle)
            .WithName(nameof(ReceiveWhatsAppWebhook))
            .WithSummary("Meta's signed deliveries: inbound messages and status callbacks")
            .Accepts<JsonElement>("application/json")
            .ProducesErrors(StatusCodes.Status401Unauthorized);

    private static async Task<Results<Ok, ApiProblem>> Handle(
        HttpRequest request, SystemScope db, IOptions<WhatsAppOptions> options, WhatsAppInboxSignal signal, CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, ct);
        var body = buffer.ToArray();
        if (!WhatsAppApi.IsSignatureValid(body, request.Headers["X-Hub-Signature-256"], options.Value.AppSecret))
        {
            return ApiProblem.Unauthorized(ErrorCodes.InvalidSignature, new(
                "The webhook signature is missing or does not match.",
                "La firma del webhook falta o no coincide.",
                "Die Signatur des Webhooks fehlt oder stimmt nicht."));
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException)
        {
            return ApiProblem.Of(StatusCodes.Status400BadRequest, ErrorCodes.InvalidJson);
        }

        var stored = 0;
        using (document)
        {
            var clinics = new Dictionary<string, Guid?>(StringComparer.Ordinal);
            foreach (var value in Values(document.RootElement))
            {
                var phoneNumberId = Str(Prop(Prop(value, "metadata"), "phone_number_id"));
                if (phoneNumberId is null)
                {
                    continue;
                }

                if (!clinics.TryGetValue(phoneNumberId, out var clinicId))
                {
                    clinicId = await db.QuerySingleOrDefaultAsync<Guid?>(ClinicSql, new { PhoneNumberId = phoneNumberId }, ct);
                    clinics[phoneNumberId] = clinicId;
                }

                if (clinicId is null)
                {
                    continue;
                }

                stored += await StoreMessagesAsync(db, clinicId.Value, value, ct);
                await UpdateStatusesAsync(db, clinicId.Value, value, ct);
            }
        }

        if (stored > 0)
        {
            // After the gate committed and the answer left: the worker then finds the rows.
            request.HttpContext.Response.OnCompleted(() =>
            {
                signal.Notify();
                return Task.CompletedTask;
            });
        }

        return TypedResults.Ok();
    }

    private static async Task<int> StoreMessagesAsync(SystemScope db, Guid clinicId, JsonElement value, CancellationToken ct)
    {
        var stored = 0;
        foreach (var message in Array(value, "messages"))
        {
            var id = Str(Prop(message, "id"));
            var from = Str(Prop(message, "from"));
            if (id is null || from is null || id.Length > 200 || from.Length > 32)
            {
                continue;
            }

            stored += await db.ExecuteAsync(InboundSql, new
            {
                Id = Guid.CreateVersion7(),
                ClinicId = clinicId,
                MessageId = id,
                From = from,
                Body = TextOf(message) is { } text && text.Length > 4096 ? text[..4096] : TextOf(message),
                ContextId = Str(Prop(Prop(message, "context"), "id")),
                SentAt = InstantOf(Str(Prop(message, "timestamp"))),
            }, ct);
        }

        return stored;
    }

    private static async Task UpdateStatusesAsync(SystemScope db, Guid clinicId, JsonElement value, CancellationToken ct)
    {
        foreach (var status in Array(value, "statuses"))
        {
            var id = Str(Prop(status, "id"));
            var state = Str(Prop(status, "status"));
            if (id is null || state is null || !Statuses.Contains(state))
            {
                continue;
            }

            var error = Array(status, "errors").Select(e => Str(Prop(e, "title")) ?? Str(Prop(e, "message"))).FirstOrDefault(e => e is not null);
            await db.ExecuteAsync(StatusSql, new
            {
                ClinicId = clinicId,
                MessageId = id,
                Status = state,
                At = InstantOf(Str(Prop(status, "timestamp"))) ?? DateTimeOffset.UtcNow,
                Error = error is null ? "WhatsApp reported the message as failed." : $"WhatsApp: {error}",
            }, ct);
        }
    }

    /// <summary>The text a patient typed or tapped: a text, a quick-reply button or an interactive reply.</summary>
    private static string? TextOf(JsonElement message) => Str(Prop(message, "type")) switch
    {
        "text" => Str(Prop(Prop(message, "text"), "body")),
        "button" => Str(Prop(Prop(message, "button"), "text")),
        "interactive" => Str(Prop(Prop(Prop(message, "interactive"), "button_reply"), "title"))
            ?? Str(Prop(Prop(Prop(message, "interactive"), "list_reply"), "title")),
        _ => null,
    };

    private static IEnumerable<JsonElement> Values(JsonElement root) =>
        Array(root, "entry").SelectMany(entry => Array(entry, "changes")).Select(change => Prop(change, "value"))
            .Where(v => v.ValueKind == JsonValueKind.Object);

    private static JsonElement Prop(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) ? value : default;

    private static JsonElement[] Array(JsonElement element, string name) =>
        Prop(element, name) is { ValueKind: JsonValueKind.Array } array ? [.. array.EnumerateArray()] : [];

    private static string? Str(JsonElement element) => element.ValueKind == JsonValueKind.String ? element.GetString() : null;

    private static DateTimeOffset? InstantOf(string? unixSeconds) =>
        long.TryParse(unixSeconds, System.Globalization.CultureInfo.InvariantCulture, out var seconds) && seconds is > 0 and < 100_000_000_000
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : null;
}
