using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Analytics;

/// <summary>
/// GET /api/analytics/by-type: the consent overview per form type (treatment, photo, …) for the
/// forms created in the window, most sent first. All plans.
/// </summary>
public sealed class GetConsentsByType : ICarterModule
{
    public sealed record Request(string? From, string? To);

    private const string Sql = $"""
        select f.type, {ConsentAnalyticsRules.CountsSql}
        from consent_forms f
        where f.clinic_id = @ClinicId and f.created_at >= @FromInstant and f.created_at < @ToInstant
        group by f.type
        order by sent desc, f.type
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/analytics")
            .MapGet("/by-type", Handle)
            .RequireDoctorOrAdmin()
            .WithName(nameof(GetConsentsByType))
            .WithSummary("Consent form counts and median time to submit per form type");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(
        [AsParameters] Request request, Tenant tenant, TimeProvider clock, CancellationToken ct)
    {
        var (window, problem) = await ConsentAnalyticsRules.ReadWindowAsync(tenant, request.From, request.To, clock, ct);
        if (window is null)
        {
            return problem!;
        }

        var items = await tenant.QueryAsync<TypeCounts>(Sql, new { tenant.ClinicId, window.FromInstant, window.ToInstant }, ct);
        return TypedResults.Ok(new Response(window.From, window.To, window.Timezone, items.ToList()));
    }

    public sealed record Response(DateOnly From, DateOnly To, string Timezone, IReadOnlyList<TypeCounts> Items);

    public sealed record TypeCounts(string Type, int Sent, int Opened, int Submitted, int Pending, int Revoked, int Expired,
        double? MedianSecondsToSubmit);
}
