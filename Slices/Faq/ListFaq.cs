using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Faq;

/// <summary>GET /api/faq: the chatbot's questions and answers (filter <c>active</c>), keyset paged by id.</summary>
public sealed class ListFaq : ICarterModule
{
    private const string Sql = """
        select id, question, answer, keywords, active, created_at, updated_at
        from faq_entries
        where clinic_id = @ClinicId
          and (@Active::boolean is null or active = @Active::boolean)
          and (@After::uuid is null or id > @After::uuid)
        order by id
        limit @Take
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/faq")
            .MapGet("/", Handle)
            .WithName(nameof(ListFaq))
            .WithSummary("List the chatbot's questions and answers (filter active)");

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

    // Property mapping: Npgsql reports text[] as System.Array, which Dapper's constructor matching refuses.
    public sealed record Response
    {
        public Guid Id { get; init; }

        public string Question { get; init; } = "";

        public string Answer { get; init; } = "";

        public string[] Keywords { get; init; } = [];

        public bool Active { get; init; }

        public DateTimeOffset CreatedAt { get; init; }

        public DateTimeOffset UpdatedAt { get; init; }
    }
}
