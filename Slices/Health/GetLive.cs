using Carter;
using ClinicFlow.Infrastructure;

namespace ClinicFlow.Slices.Health;

/// <summary>GET /health/live: the process is up (no dependencies checked).</summary>
public sealed class GetLive : ICarterModule
{
    public sealed record Response(string Status);

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapGet("/health/live", () => TypedResults.Ok(new Response("live")))
            .AllowAnonymous()
            .WithTags("Health")
            .WithName(nameof(GetLive))
            .WithSummary("Liveness")
            .ProducesErrors(StatusCodes.Status400BadRequest);
}
