using System.Text.Json;
using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Settings;

/// <summary>
/// GET /api/settings: an admin reads the practice settings: consent defaults, branding colour,
/// retention, GDT ids, the practice's public encryption key (JWK) with the history of its keys,
/// and the logo URL. Defaults answer for a practice that never saved any.
/// </summary>
public sealed class GetSettings : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/settings")
            .MapGet("/", Handle)
            .RequireAdmin()
            .WithName(nameof(GetSettings))
            .WithSummary("Practice settings: consent defaults, branding, retention, GDT ids, public key, logo");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(Tenant tenant, CancellationToken ct)
    {
        var row = await tenant.QuerySingleAsync<SettingsRow>(SettingsRow.Sql, new { tenant.ClinicId }, ct);
        var keys = await tenant.QueryAsync<KeyInfo>(SettingsRow.KeysSql, new { tenant.ClinicId }, ct);
        return TypedResults.Ok(new Response(
            row.PublicKey is null ? null : JsonSerializer.Deserialize<JsonElement>(row.PublicKey),
            row.BrandColor, row.ConsentExpiryDays, row.RetentionDays, row.GdtSenderId, row.GdtReceiverId,
            row.LogoEtag is null ? null : SettingsRules.LogoUrl(tenant.Http, tenant.ClinicId, row.LogoEtag),
            keys.ToList()));
    }

    public sealed record Response(JsonElement? PublicKey, string? BrandColor, int ConsentExpiryDays, int RetentionDays,
        string? GdtSenderId, string? GdtReceiverId, string? LogoUrl, IReadOnlyList<KeyInfo> Keys);

    public sealed record KeyInfo(string Kid, string Alg, DateTimeOffset CreatedAt, DateTimeOffset? RetiredAt);
}
