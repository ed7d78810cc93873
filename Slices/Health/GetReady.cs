using Carter;
using ClinicFlow.Infrastructure;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace ClinicFlow.Slices.Health;

/// <summary>
/// GET /health/ready: the database answers and holds every migration this build knows, and the outbox
/// worker runs (an instance that cannot send its mail and messages should not take traffic).
/// </summary>
public sealed class GetReady : ICarterModule
{
    public sealed record Response(string Status, long Migration);

    private const string Sql = """select coalesce(max("Version"), 0) from "VersionInfo" """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapGet("/health/ready", Handle)
            .AllowAnonymous()
            .WithTags("Health")
            .WithName(nameof(GetReady))
            .WithSummary("Readiness: database reachable and migrated, outbox worker running")
            .ProducesErrors(StatusCodes.Status400BadRequest, StatusCodes.Status503ServiceUnavailable);

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(NpgsqlDataSource db, OutboxDispatcher outbox, CancellationToken ct)
    {
        if (!outbox.IsHealthy)
        {
            return ApiProblem.Of(StatusCodes.Status503ServiceUnavailable, ErrorCodes.ServiceUnavailable);
        }

        long version;
        try
        {
            await using var connection = await db.OpenConnectionAsync(ct);
            version = await connection.ExecuteScalarAsync<long>(new CommandDefinition(Sql, cancellationToken: ct));
        }
        catch (Exception e) when (Database.IsUnavailable(e) || e is PostgresException)
        {
            return ApiProblem.Of(StatusCodes.Status503ServiceUnavailable, ErrorCodes.ServiceUnavailable);
        }

        return version >= Database.LatestMigration
            ? TypedResults.Ok(new Response("ready", version))
            : ApiProblem.Of(StatusCodes.Status503ServiceUnavailable, ErrorCodes.ServiceUnavailable);
    }
}
