using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Superadmin;

/// <summary>DELETE /api/superadmin/invite-codes/{code}: revokes a code; registrations with it are refused from now on.</summary>
public sealed class RevokeInviteCode : ICarterModule
{
    // Revoking twice keeps the first revocation time and audits only the first.
    private const string Sql = """
        with old as (
            select code, revoked_at from invite_codes where code = @Code for update
        )
        update invite_codes i
        set revoked_at = coalesce(old.revoked_at, now())
        from old
        where i.code = old.code
        returning i.revoked_at, old.revoked_at is null as newly_revoked
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapSuperadminGroup("/invite-codes")
            .MapDelete("/{code}", Handle)
            .WithName(nameof(RevokeInviteCode))
            .WithSummary("Revoke an invite code");

    private static async Task<Results<NoContent, ApiProblem>> Handle(string code, SystemScope db, CancellationToken ct)
    {
        var row = await db.QuerySingleOrDefaultAsync<Row>(Sql, new { Code = code }, ct);
        if (row is null)
        {
            return ApiProblem.NotFound();
        }

        if (row.NewlyRevoked)
        {
            await db.AuditAsync(Audit.PlatformChain, "invite_code.revoke", "invite_code", code, new { row.RevokedAt }, ct);
        }

        return TypedResults.NoContent();
    }

    private sealed record Row(DateTimeOffset RevokedAt, bool NewlyRevoked);
}
