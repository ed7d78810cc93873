using System.Text.Json;
using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

// Not ClinicFlow.Slices.Audit: that namespace would hide Infrastructure.Audit (Audit.PlatformChain) from every other slice.
namespace ClinicFlow.Slices.AuditTrail;

/// <summary>GET /api/audit: an admin reads the clinic's audit trail, newest first, filtered and keyset-paged on seq.</summary>
public sealed class ListAudit : ICarterModule
{
    // Optional filters read "(@X is null or col = @X)": with a value, the planner picks the matching
    // (clinic_id, …, seq desc) index; the statement runs with a custom plan (see Handle) so it can.
    private const string Sql = """
        select id, seq, occurred_at, actor_id, actor_type, action, entity_type, entity_id, ip, user_agent,
               changes::text as changes, encode(hash, 'hex') as hash
        from audit_log
        where clinic_id = @ClinicId
          and (@Action::text is null or action = @Action)
          and (@ActorId::uuid is null or actor_id = @ActorId)
          and (@EntityType::text is null or entity_type = @EntityType)
          and (@EntityId::text is null or entity_id = @EntityId)
          and (@From::timestamptz is null or occurred_at >= @From)
          and (@To::timestamptz is null or occurred_at <= @To)
          and (@After::bigint is null or seq < @After)
        order by seq desc
        limit @Take
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/audit")
            .MapGet("/", Handle)
            .RequireAdmin()
            .WithName(nameof(ListAudit))
            .WithSummary("List the clinic's audit entries, newest first");

    private static async Task<Results<Ok<Page<Response>>, ApiProblem>> Handle(
        string? action, Guid? actorId, string? entityType, string? entityId, DateTimeOffset? from, DateTimeOffset? to,
        int? limit, string? cursor, Tenant tenant, CancellationToken ct)
    {
        if (!Paging.TryReadLong(limit, cursor, out var take, out var after, out var problem))
        {
            return problem!;
        }

        if (from > to)
        {
            return ApiProblem.Validation("from", new(
                "from must not be after to.", "from no puede ser posterior a to.", "from darf nicht nach to liegen."));
        }

        tenant.PlanPerCall();
        var rows = await tenant.QueryAsync<Row>(Sql, new
        {
            tenant.ClinicId,
            Action = action.TrimToNull(),
            ActorId = actorId,
            EntityType = entityType.TrimToNull(),
            EntityId = entityId.TrimToNull(),
            // Npgsql writes timestamptz only from UTC offsets.
            From = from?.ToUniversalTime(),
            To = to?.ToUniversalTime(),
            After = after,
            Take = take + 1,
        }, ct);
        return TypedResults.Ok(Paging.ToPage(rows.Select(r => r.ToResponse()), take, r => r.Seq));
    }

    private sealed record Row(Guid Id, long Seq, DateTimeOffset OccurredAt, Guid? ActorId, string ActorType, string Action,
        string EntityType, string? EntityId, string? Ip, string? UserAgent, string Changes, string Hash)
    {
        public Response ToResponse() => new(Id, Seq, OccurredAt, ActorId, ActorType, Action, EntityType, EntityId, Ip, UserAgent,
            JsonSerializer.Deserialize<JsonElement>(Changes), Hash);
    }

    public sealed record Response(Guid Id, long Seq, DateTimeOffset OccurredAt, Guid? ActorId, string ActorType, string Action,
        string EntityType, string? EntityId, string? Ip, string? UserAgent, JsonElement Changes, string Hash);
}
