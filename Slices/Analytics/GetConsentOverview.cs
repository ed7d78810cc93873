using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Analytics;

/// <summary>
/// GET /api/analytics/overview: an admin or doctor sees the consent forms created in a window
/// (local dates, default the last 30 days): sent, opened, submitted, pending, revoked, expired and
/// the median time from sending to submission. All plans.
/// </summary>
public sealed class GetConsentOverview : ICarterModule
{
    public sealed record Request(string? From, string? To);

    private const string Sql = $"""
        select {ConsentAnalyticsRules.CountsSql}
        from consent_forms f
        where f.clinic_id = @ClinicId and f.created_at >= @FromInstant and f.created_at < @ToInstant
        """;

    private sealed record Counts(int Sent, int Opened, int Submitted, int Pending, int Revoked, int Expired, double? MedianSecondsToSubmit);

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/analytics")
            .MapGet("/overview", Handle)
            .RequireDoctorOrAdmin()
            .WithName(nameof(GetConsentOverview))
            .WithSummary("Consent forms sent, opened, submitted, pending, revoked, expired and the median time to submit");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(
        [AsParameters] Request request, Tenant tenant, TimeProvider clock, CancellationToken ct)
    {
        var (window, problem) = await ConsentAnalyticsRules.ReadWindowAsync(tenant, request.From, request.To, clock, ct);
        if (window is null)
        {
            return problem!;
        }

        var c = await tenant.QuerySingleAsync<Counts>(Sql, new { tenant.ClinicId, window.FromInstant, window.ToInstant }, ct);
        return TypedResults.Ok(new Response(window.From, window.To, window.Timezone, c.Sent, c.Opened, c.Submitted, c.Pending,
            c.Revoked, c.Expired, c.MedianSecondsToSubmit));
    }

    public sealed record Response(DateOnly From, DateOnly To, string Timezone, int Sent, int Opened, int Submitted, int Pending,
        int Revoked, int Expired, double? MedianSecondsToSubmit);
}
