using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Superadmin;

/// <summary>DELETE /api/superadmin/invite-codes/{code}: revokes a code; registrations with it are refused from now on.</summary>
public sealed class RevokeInviteCode : ICarterModule
{
    // Revoking twice keeps the first revocation time.
    private const string Sql = """
        update invite_codes
        set revoked_at = coalesce(revoked_at, now())
        where code = @Code
        returning revoked_at
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapSuperadminGroup("/invite-codes")
            .MapDelete("/{code}", Handle)
            .WithName(nameof(RevokeInviteCode))
            .WithSummary("Revoke an invite code");

    private static async Task<Results<NoContent, ApiProblem>> Handle(string code, SystemScope db, CancellationToken ct)
    {
        var revokedAt = await db.QuerySingleOrDefaultAsync<DateTimeOffset?>(Sql, new { Code = code }, ct);
        if (revokedAt is null)
        {
            return ApiProblem.NotFound();
        }

        await db.AuditAsync(Audit.PlatformChain, "invite_code.revoke", "invite_code", code, new { revokedAt }, ct);
        return TypedResults.NoContent();
    }
}
