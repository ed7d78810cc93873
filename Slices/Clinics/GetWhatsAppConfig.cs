using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Clinics;

/// <summary>
/// GET /api/clinics/current/whatsapp: the clinic's WhatsApp Cloud API number and whether it is on.
/// The access token is write-only: the answer says only whether one is stored.
/// </summary>
public sealed class GetWhatsAppConfig : ICarterModule
{
    private const string Sql = """
        select phone_number_id, business_account_id, enabled, updated_at
        from whatsapp_configs
        where clinic_id = @ClinicId
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/clinics")
            .MapGet("/current/whatsapp", Handle)
            .RequireAdmin()
            .WithName(nameof(GetWhatsAppConfig))
            .WithSummary("The clinic's WhatsApp Cloud API configuration (never the access token)");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(Tenant tenant, HttpContext http, CancellationToken ct)
    {
        var row = await tenant.QuerySingleOrDefaultAsync<Row>(Sql, new { tenant.ClinicId }, ct);
        var webhookUrl = http.PublicUrl("/api/webhooks/whatsapp");
        return TypedResults.Ok(row is null
            ? new Response(false, null, null, false, false, null, webhookUrl)
            : new Response(true, row.PhoneNumberId, row.BusinessAccountId, row.Enabled, true, row.UpdatedAt, webhookUrl));
    }

    private sealed record Row(string PhoneNumberId, string BusinessAccountId, bool Enabled, DateTimeOffset UpdatedAt);

    /// <summary><c>webhookUrl</c> is what the clinic's Meta app subscribes to (docs/whatsapp.md).</summary>
    public sealed record Response(bool Configured, string? PhoneNumberId, string? BusinessAccountId, bool Enabled, bool HasAccessToken,
        DateTimeOffset? UpdatedAt, string WebhookUrl);
}
