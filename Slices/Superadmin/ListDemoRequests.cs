using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Superadmin;

/// <summary>GET /api/superadmin/demo-requests: demo requests, newest first, optionally of one status.</summary>
public sealed class ListDemoRequests : ICarterModule
{
    public static readonly string[] Statuses = ["new", "contacted", "converted", "rejected"];

    private const string Sql = """
        select id, name, email, clinic_name, phone, country, message, status, ip, created_at, updated_at
        from demo_requests
        where (@Status::text is null or status = @Status::text)
          and (@After::uuid is null or id < @After::uuid)
        order by id desc
        limit @Take
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapSuperadminGroup("/demo-requests")
            .MapGet("/", Handle)
            .WithName(nameof(ListDemoRequests))
            .WithSummary("Demo requests, newest first; filter status");

    private static async Task<Results<Ok<Page<DemoRequestItem>>, ApiProblem>> Handle(
        string? status, int? limit, string? cursor, SystemScope db, CancellationToken ct)
    {
        if (!Paging.TryReadGuid(limit, cursor, out var take, out var after, out var problem))
        {
            return problem!;
        }

        if (status is not null && !Statuses.Contains(status))
        {
            return ApiProblem.Validation("status", new(
                "Use new, contacted, converted or rejected.",
                "Use new, contacted, converted o rejected.",
                "Verwenden Sie new, contacted, converted oder rejected."));
        }

        var rows = await db.QueryAsync<DemoRequestItem>(Sql, new { Status = status, After = after, Take = take + 1 }, ct);
        return TypedResults.Ok(Paging.ToPage(rows, take, r => r.Id));
    }

    public sealed record DemoRequestItem(Guid Id, string Name, string Email, string ClinicName, string? Phone, string? Country,
        string? Message, string Status, string? Ip, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);
}
