using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Doctors;

/// <summary>GET /api/doctors: the clinic's doctors, active ones unless includeInactive=true, keyset paged by id (creation order).</summary>
public sealed class ListDoctors : ICarterModule
{
    private const string Sql = """
        select id, full_name, specialty, email::text as email, phone, user_id, active, color, created_at
        from doctors
        where clinic_id = @ClinicId
          and (@IncludeInactive or active)
          and (@After::uuid is null or id > @After::uuid)
        order by id
        limit @Take
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/doctors")
            .MapGet("/", Handle)
            .WithName(nameof(ListDoctors))
            .WithSummary("List the clinic's doctors (active ones unless includeInactive=true)");

    private static async Task<Results<Ok<Page<Response>>, ApiProblem>> Handle(
        bool? includeInactive, int? limit, string? cursor, Tenant tenant, CancellationToken ct)
    {
        if (!Paging.TryReadGuid(limit, cursor, out var take, out var after, out var problem))
        {
            return problem!;
        }

        var rows = await tenant.QueryAsync<Response>(Sql, new
        {
            tenant.ClinicId,
            IncludeInactive = includeInactive ?? false,
            After = after,
            Take = take + 1,
        }, ct);
        return TypedResults.Ok(Paging.ToPage(rows, take, r => r.Id));
    }

    public sealed record Response(Guid Id, string FullName, string? Specialty, string? Email, string? Phone, Guid? UserId,
        bool Active, string? Color, DateTimeOffset CreatedAt);
}
