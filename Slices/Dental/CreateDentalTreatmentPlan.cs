using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.TreatmentPlans;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Dental;

/// <summary>
/// POST /api/dental/treatment-plans: any member of a Pro+ clinic writes a dental treatment plan, items
/// on FDI tooth numbers. The same plans as /api/treatment-plans (one model, two route families).
/// </summary>
public sealed class CreateDentalTreatmentPlan : ICarterModule
{
    public sealed record Request(Guid? PatientId, string? Title, string? Status, string? Notes, IReadOnlyList<ItemInput>? Items, Guid? TemplateId);

    public sealed record ItemInput(string? Description, string? Code, int? Tooth, int? Quantity, long? UnitPriceCents) : TreatmentPlanRules.IItem;

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.PatientId).NotNull();
            RuleFor(r => r.Title).NotEmpty().When(r => r.TemplateId is null).WithMessage("Give a title (or a templateId to take its name).");
            RuleFor(r => r.Title).MaximumLength(200);
            RuleFor(r => r.Status).Must(s => s is null || TreatmentPlanRules.InitialStatuses.Contains(s))
                .WithMessage("A plan starts as draft, proposed or accepted.");
            RuleFor(r => r.Notes).MaximumLength(10_000);
            RuleFor(r => r.Items).Must(i => i is null || i.Count <= TreatmentPlanRules.MaxItems)
                .WithMessage($"At most {TreatmentPlanRules.MaxItems} items.");
            RuleForEach(r => r.Items).NotNull().SetValidator(new TreatmentPlanRules.ItemValidator());
        }
    }

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/dental")
            .MapPost("/treatment-plans", Handle)
            .RequireProPlan()
            .WithName(nameof(CreateDentalTreatmentPlan))
            .WithSummary("Create a dental treatment plan (items on FDI tooth numbers)");

    private static async Task<Results<Created<Response>, ApiProblem>> Handle(
        Request request, Tenant tenant, Validator validator, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        var (id, problem) = await TreatmentPlanRules.CreateAsync(tenant, new(request.PatientId!.Value, request.Title, request.Status,
            request.Notes, request.Items, request.TemplateId), "dental", ct);
        if (problem is not null)
        {
            return problem;
        }

        var (plan, items) = (await TreatmentPlanRules.LoadAsync(tenant, tenant.ClinicId, id, ct))!.Value;
        return TypedResults.Created($"/api/treatment-plans/{id}", Response.From(plan, items));
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
