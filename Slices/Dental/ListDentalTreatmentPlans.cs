using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.TreatmentPlans;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Dental;

/// <summary>GET /api/dental/treatment-plans: the clinic's treatment plans, filtered by patient and status, oldest first.</summary>
public sealed class ListDentalTreatmentPlans : ICarterModule
{
    public sealed record Request(Guid? PatientId, string? Status, int? Limit, string? Cursor);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator() =>
            RuleFor(r => r.Status).Must(s => s is null || TreatmentPlanRules.Statuses.Contains(s))
                .WithMessage("Use draft, proposed, accepted, in_progress, completed or cancelled.");
    }

    private const string Sql = $"""
        select {TreatmentPlanRules.PlanColumns}
        from treatment_plan_summaries s
        join patients p on p.clinic_id = s.clinic_id and p.id = s.patient_id and p.erased_at is null
        where s.clinic_id = @ClinicId
          and (@PatientId::uuid is null or s.patient_id = @PatientId)
          and (@Status::text is null or s.status = @Status)
          and (@After::uuid is null or s.id > @After)
        order by s.id
        limit @Take
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/dental")
            .MapGet("/treatment-plans", Handle)
            .RequireProPlan()
            .WithName(nameof(ListDentalTreatmentPlans))
            .WithSummary("Treatment plans of the clinic (filters patientId, status)");

    private static async Task<Results<Ok<Page<Response>>, ApiProblem>> Handle(
        [AsParameters] Request request, Tenant tenant, Validator validator, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        if (!Paging.TryReadGuid(request.Limit, request.Cursor, out var take, out var after, out var problem))
        {
            return problem!;
        }

        // Optional filters: plan this call for the filters it actually has.
        tenant.PlanPerCall();
        var plans = (await tenant.QueryAsync<TreatmentPlanRules.PlanRow>(Sql,
            new { tenant.ClinicId, request.PatientId, request.Status, After = after, Take = take + 1 }, ct)).ToList();
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
