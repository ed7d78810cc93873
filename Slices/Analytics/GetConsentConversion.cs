using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Analytics;

/// <summary>
/// GET /api/analytics/conversion: the consent funnel sent → opened → submitted for the forms created
/// in the window, with the rates between the steps (0 when a step has no forms). A submitted form
/// that was revoked later still counts as submitted here. All plans.
/// </summary>
public sealed class GetConsentConversion : ICarterModule
{
    public sealed record Request(string? From, string? To);

    private sealed record Funnel(int Sent, int Opened, int Submitted);

    private const string Sql = """
        select count(*)::int as sent,
               count(*) filter (where f.opened_at is not null or f.submitted_at is not null)::int as opened,
               count(*) filter (where f.submitted_at is not null)::int as submitted
        from consent_forms f
        where f.clinic_id = @ClinicId and f.created_at >= @FromInstant and f.created_at < @ToInstant
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/analytics")
            .MapGet("/conversion", Handle)
            .RequireDoctorOrAdmin()
            .WithName(nameof(GetConsentConversion))
            .WithSummary("Consent funnel: sent, opened, submitted and the rates between them");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(
        [AsParameters] Request request, Tenant tenant, TimeProvider clock, CancellationToken ct)
    {
        var (window, problem) = await ConsentAnalyticsRules.ReadWindowAsync(tenant, request.From, request.To, clock, ct);
        if (window is null)
        {
            return problem!;
        }

        var f = await tenant.QuerySingleAsync<Funnel>(Sql, new { tenant.ClinicId, window.FromInstant, window.ToInstant }, ct);
        return TypedResults.Ok(new Response(window.From, window.To, window.Timezone, f.Sent, f.Opened, f.Submitted,
            Rate(f.Opened, f.Sent), Rate(f.Submitted, f.Sent), Rate(f.Submitted, f.Opened)));
    }

    private static double Rate(int part, int whole) => whole == 0 ? 0 : Math.Round((double)part / whole, 4);

    public sealed record Response(DateOnly From, DateOnly To, string Timezone, int Sent, int Opened, int Submitted,
        double OpenRate, double SubmitRate, double SubmittedOfOpened);
}
