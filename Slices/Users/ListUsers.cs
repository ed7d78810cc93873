using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Users;

/// <summary>GET /api/users: the clinic's staff, optionally only active or inactive ones, keyset paged by id.</summary>
public sealed class ListUsers : ICarterModule
{
    private const string Sql = """
        select id, email, full_name, role, active, phone, locale, clinic_id, created_at, pin_hash is not null as has_pin
        from users
        where clinic_id = @ClinicId
          and (@Active::boolean is null or active = @Active::boolean)
          and (@After::uuid is null or id > @After::uuid)
        order by id
        limit @Take
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/users")
            .MapGet("/", Handle)
            .RequireAdmin()
            .WithName(nameof(ListUsers))
            .WithSummary("List the clinic's users (filter active)");

    private static async Task<Results<Ok<Page<Response>>, ApiProblem>> Handle(
        bool? active, int? limit, string? cursor, Tenant tenant, CancellationToken ct)
    {
        if (!Paging.TryReadGuid(limit, cursor, out var take, out var after, out var problem))
        {
            return problem!;
        }

        var rows = await tenant.QueryAsync<Response>(Sql, new { tenant.ClinicId, Active = active, After = after, Take = take + 1 }, ct);
        return TypedResults.Ok(Paging.ToPage(rows, take, r => r.Id));
    }

    public sealed record Response(Guid Id, string Email, string FullName, string Role, bool Active, string? Phone,
        string Locale, Guid ClinicId, DateTimeOffset CreatedAt, bool HasPin);
}
