using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.TreatmentPlans;

/// <summary>GET /api/treatment-plans/patient/{patientId}: a patient's treatment plans, oldest first, keyset-paged.</summary>
public sealed class ListPatientTreatmentPlans : ICarterModule
{
    private const string PatientSql = """
        select id from patients where clinic_id = @ClinicId and id = @PatientId and erased_at is null
        """;

    private const string Sql = $"""
        select {TreatmentPlanRules.PlanColumns}
        from treatment_plan_summaries s
        where s.clinic_id = @ClinicId and s.patient_id = @PatientId and (@After::uuid is null or s.id > @After)
        order by s.id
        limit @Take
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/treatment-plans")
            .MapGet("/patient/{patientId:guid}", Handle)
            .RequireDoctorOrAdmin()
            .WithName(nameof(ListPatientTreatmentPlans))
            .WithSummary("A patient's treatment plans");

    private static async Task<Results<Ok<Page<Response>>, ApiProblem>> Handle(
        Guid patientId, int? limit, string? cursor, Tenant tenant, CancellationToken ct)
    {
        if (!Paging.TryReadGuid(limit, cursor, out var take, out var after, out var problem))
        {
            return problem!;
        }

        if (await tenant.QuerySingleOrDefaultAsync<Guid?>(PatientSql, new { tenant.ClinicId, PatientId = patientId }, ct) is null)
        {
            return ApiProblem.NotFound();
        }

        var plans = (await tenant.QueryAsync<TreatmentPlanRules.PlanRow>(Sql,
            new { tenant.ClinicId, PatientId = patientId, After = after, Take = take + 1 }, ct)).ToList();
        var items = await TreatmentPlanRules.ItemsOfAsync(tenant, tenant.ClinicId, plans.Select(p => p.Id).ToArray(), ct);
        return TypedResults.Ok(Paging.ToPage(plans.Select(p => Response.From(p, items[p.Id])), take, r => r.Id));
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
