using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.TreatmentPlans;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.TreatmentTemplates;

/// <summary>GET /api/treatment-templates: the clinic's treatment templates with their items, oldest first, keyset-paged.</summary>
public sealed class ListTreatmentTemplates : ICarterModule
{
    private const string Sql = $"""
        select {TreatmentPlanRules.TemplateColumns}
        from treatment_templates t
        where t.clinic_id = @ClinicId and (@After::uuid is null or t.id > @After)
        order by t.id
        limit @Take
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/treatment-templates")
            .MapGet("/", Handle)
            .RequireDoctorOrAdmin()
            .WithName(nameof(ListTreatmentTemplates))
            .WithSummary("The clinic's treatment templates");

    private static async Task<Results<Ok<Page<Response>>, ApiProblem>> Handle(int? limit, string? cursor, Tenant tenant, CancellationToken ct)
    {
        if (!Paging.TryReadGuid(limit, cursor, out var take, out var after, out var problem))
        {
            return problem!;
        }

        var templates = (await tenant.QueryAsync<TreatmentPlanRules.TemplateRow>(Sql,
            new { tenant.ClinicId, After = after, Take = take + 1 }, ct)).ToList();
        var items = await TreatmentPlanRules.TemplateItemsOfAsync(tenant, tenant.ClinicId, templates.Select(t => t.Id).ToArray(), ct);
        return TypedResults.Ok(Paging.ToPage(templates.Select(t => Response.From(t, items[t.Id])), take, r => r.Id));
    }

    public sealed record Response(Guid Id, string Name, string? Category, IReadOnlyList<Item> Items, long TotalCents,
        DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
    {
        internal static Response From(TreatmentPlanRules.TemplateRow t, IEnumerable<TreatmentPlanRules.TemplateItemRow> items) =>
            new(t.Id, t.Name, t.Category,
                items.Select(i => new Item(i.Description, i.Code, i.Tooth, i.Quantity, i.UnitPriceCents)).ToList(),
                t.TotalCents, t.CreatedAt, t.UpdatedAt);
    }

    public sealed record Item(string Description, string? Code, int? Tooth, int Quantity, long UnitPriceCents);
}
