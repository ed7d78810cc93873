using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

// Not ClinicFlow.Slices.Audit: that namespace would hide Infrastructure.Audit (Audit.PlatformChain) from every other slice.
namespace ClinicFlow.Slices.AuditTrail;

/// <summary>
/// GET /api/audit/verify: an admin re-walks the clinic's hash chain in the database and learns whether
/// any entry was altered, removed or inserted out of band, and which one broke the chain first.
/// </summary>
public sealed class VerifyAudit : ICarterModule
{
    // One pass over the chain in seq order. An entry is broken when its stored hash is not the digest of
    // its own fields, its prev_hash is not the previous entry's hash (the first one's is empty), or its
    // seq does not follow the previous one (a row removed from the middle). The chain head the writer
    // keeps must equal the last entry: otherwise entries were removed from (or forged at) the end.
    private const string Sql = """
        with chain as (
            select id, seq, hash, prev_hash,
                   lag(hash, 1, '\x'::bytea) over w as expected_prev_hash,
                   lag(seq, 1, 0::bigint) over w as prev_seq,
                   audit_digest(prev_hash, clinic_id, seq, id, occurred_at, actor_id, actor_type, action,
                                entity_type, entity_id, ip, user_agent, changes) as digest
            from audit_log
            where clinic_id = @ClinicId
            window w as (order by seq)
        ),
        tail as (
            select seq, hash from chain order by seq desc limit 1
        ),
        head as (
            select seq, hash from audit_heads where clinic_id = @ClinicId
        )
        select (select count(*) from chain) as entries,
               (select id from chain
                where hash <> digest or prev_hash <> expected_prev_hash or seq <> prev_seq + 1
                order by seq limit 1) as first_broken_id,
               (coalesce((select seq from tail), 0) = coalesce((select seq from head), 0)
                and (select hash from tail) is not distinct from (select hash from head)) as tail_matches_head
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/audit")
            .MapGet("/verify", Handle)
            .RequireAdmin()
            .WithName(nameof(VerifyAudit))
            .WithSummary("Verify the clinic's audit hash chain");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(Tenant tenant, CancellationToken ct)
    {
        var check = await tenant.QuerySingleAsync<Check>(Sql, new { tenant.ClinicId }, ct);
        // A chain cut at its end has no entry left to blame: valid is false and firstBrokenId stays null.
        return TypedResults.Ok(new Response(check.FirstBrokenId is null && check.TailMatchesHead, check.Entries, check.FirstBrokenId));
    }

    private sealed record Check(long Entries, Guid? FirstBrokenId, bool TailMatchesHead);

    public sealed record Response(bool Valid, long Entries, Guid? FirstBrokenId);
}
