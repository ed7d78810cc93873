using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.TreatmentPlans;

/// <summary>GET /api/treatment-plans/{id}: one treatment plan with its items and SQL-computed total.</summary>
public sealed class GetTreatmentPlan : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/treatment-plans")
            .MapGet("/{id:guid}", Handle)
            .RequireDoctorOrAdmin()
            .WithName(nameof(GetTreatmentPlan))
            .WithSummary("One treatment plan with its items and total");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(Guid id, Tenant tenant, CancellationToken ct)
    {
        if (await TreatmentPlanRules.LoadAsync(tenant, tenant.ClinicId, id, ct) is not { } loaded)
        {
            return ApiProblem.NotFound();
        }

        return TypedResults.Ok(Response.From(loaded.Plan, loaded.Items));
    }

    public sealed record Response(Guid Id, Guid PatientId, string Title, string Status, string? Notes, IReadOnlyList<Item> Items,
        long TotalCents, Guid? TemplateId, Guid? PaymentPlanId, DateTimeOffset? AcceptedAt, DateTimeOffset RetainUntil,
        DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
    {
        internal static Response From(TreatmentPlanRules.PlanRow p, IEnumerable<TreatmentPlanRules.ItemRow> items) =>
            new(p.Id, p.PatientId, p.Title, p.Status, p.Notes,
                items.Select(i => new Item(i.Description, i.Code, i.Tooth, i.Quantity, i.UnitPriceCents)).ToList(),
                p.TotalCents, p.TemplateId, p.PaymentPlanId, p.AcceptedAt, p.RetainUntil, p.CreatedAt, p.UpdatedAt);
    }

    public sealed record Item(string Description, string? Code, int? Tooth, int Quantity, long UnitPriceCents);
}
