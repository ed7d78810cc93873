using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Team;

/// <summary>GET /api/team/invite/{token}: what the invite page shows (clinic, email, role, expiry); 404 unknown, 410 expired, used or revoked.</summary>
public sealed class GetInvite : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapSystemGroup("/team", RateLimits.PublicLinks)
            .MapGet("/invite/{token}", Handle)
            .WithName(nameof(GetInvite))
            .WithSummary("Read a team invite by its link token")
            .ProducesErrors(StatusCodes.Status404NotFound, StatusCodes.Status410Gone);

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(string token, SystemScope db, CancellationToken ct)
    {
        var row = await TeamRules.FindInviteAsync(db, token, ct);
        if (row is null)
        {
            return ApiProblem.NotFound();
        }

        if (TeamRules.Gone(row) is { } gone)
        {
            return gone;
        }

        return TypedResults.Ok(new Response(row.ClinicName, row.Email, row.Role, row.ExpiresAt));
    }

    public sealed record Response(string ClinicName, string Email, string Role, DateTimeOffset ExpiresAt);
}
