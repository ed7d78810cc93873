using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace ClinicFlow.Slices.WhatsApp;

/// <summary>
/// GET /api/webhooks/whatsapp: Meta's subscription handshake. With <c>hub.mode=subscribe</c> and the
/// platform's verify token (compared in constant time) it answers <c>hub.challenge</c> as plain text.
/// </summary>
public sealed class VerifyWhatsAppWebhook : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapSystemGroup("/webhooks", RateLimits.PublicLinks)
            .MapGet("/whatsapp", Handle)
            .WithName(nameof(VerifyWhatsAppWebhook))
            .WithSummary("Meta's webhook verification handshake")
            .Produces<string>(StatusCodes.Status200OK, "text/plain")
            .ProducesErrors(StatusCodes.Status403Forbidden);

    private static Results<ContentHttpResult, ApiProblem> Handle(
        [FromQuery(Name = "hub.mode")] string? mode,
        [FromQuery(Name = "hub.verify_token")] string? verifyToken,
        [FromQuery(Name = "hub.challenge")] string? challenge,
        IOptions<WhatsAppOptions> options)
    {
        if (mode != "subscribe" || string.IsNullOrEmpty(challenge) || challenge.Length > 200
            || !WhatsAppApi.SecretEquals(verifyToken, options.Value.VerifyToken))
        {
            return ApiProblem.Forbidden(ErrorCodes.Forbidden, new(
                "The verification token does not match.", "El token de verificación no coincide.", "Das Verifizierungstoken stimmt nicht."));
        }

        return TypedResults.Text(challenge, "text/plain");
    }
}
