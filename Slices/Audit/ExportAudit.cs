using System.Globalization;
using Carter;
using ClinicFlow.Infrastructure;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;

// Not ClinicFlow.Slices.Audit: that namespace would hide Infrastructure.Audit (Audit.PlatformChain) from every other slice.
namespace ClinicFlow.Slices.AuditTrail;

/// <summary>
/// GET /api/audit/export: an admin downloads the clinic's audit entries (the filters of GET /api/audit)
/// as CSV, oldest first, streamed row by row from the database to the response.
/// </summary>
public sealed class ExportAudit : ICarterModule
{
    // Free-text cells go through csv_safe() (no spreadsheet formulas); uuids, numbers and timestamps
    // never start with a formula character.
    private const string Sql = """
        select id, seq,
               to_char(occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as occurred_at,
               actor_id, actor_type,
               csv_safe(action) as action,
               csv_safe(entity_type) as entity_type,
               csv_safe(entity_id) as entity_id,
               csv_safe(ip) as ip,
               csv_safe(user_agent) as user_agent,
               csv_safe(changes::text) as changes,
               encode(hash, 'hex') as hash
        from audit_log
        where clinic_id = @ClinicId
          and (@Action::text is null or action = @Action)
          and (@ActorId::uuid is null or actor_id = @ActorId)
          and (@EntityType::text is null or entity_type = @EntityType)
          and (@EntityId::text is null or entity_id = @EntityId)
          and (@From::timestamptz is null or occurred_at >= @From)
          and (@To::timestamptz is null or occurred_at <= @To)
        order by seq
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/audit")
            .MapGet("/export", Handle)
            .RequireAdmin()
            .UsesLargePool()
            .WithName(nameof(ExportAudit))
            .WithSummary("Export the clinic's audit entries as CSV, oldest first")
            .Produces<string>(StatusCodes.Status200OK, "text/csv");

    private static async Task<Results<EmptyHttpResult, ApiProblem>> Handle(
        string? action, Guid? actorId, string? entityType, string? entityId, DateTimeOffset? from, DateTimeOffset? to,
        Tenant tenant, TimeProvider clock, CancellationToken ct)
    {
        if (from > to)
        {
            return ApiProblem.Validation("from", new(
                "from must not be after to.", "from no puede ser posterior a to.", "from darf nicht nach to liegen."));
        }

        tenant.PlanPerCall();
        var args = new
        {
            tenant.ClinicId,
            Action = action.TrimToNull(),
            ActorId = actorId,
            EntityType = entityType.TrimToNull(),
            EntityId = entityId.TrimToNull(),
            From = from?.ToUniversalTime(),
            To = to?.ToUniversalTime(),
        };

        // Npgsql's reader streams rows off the wire as they are read, so memory stays flat whatever the
        // size of the chain. The request's transaction stays open until this handler returns.
        await using var reader = await tenant.ExecuteReaderAsync(Sql, args, ct);
        var date = clock.GetUtcNow().ToString("yyyyMMdd", CultureInfo.InvariantCulture);
        await CsvExport.WriteAsync(tenant.Http, reader, $"audit-{date}.csv", ct);

        return TypedResults.Empty;
    }

}
