using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.TreatmentPlans;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.TreatmentTemplates;

/// <summary>
/// PATCH /api/treatment-templates/{id}: changes name and category and replaces the items. Plans
/// already prefilled from the template keep their own copy of the items.
/// </summary>
public sealed class UpdateTreatmentTemplate : ICarterModule
{
    public sealed record Request(string? Name, string? Category, IReadOnlyList<ItemInput>? Items);

    public sealed record ItemInput(string? Description, string? Code, int? Tooth, int? Quantity, long? UnitPriceCents) : TreatmentPlanRules.IItem;

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.Name).NotEmpty().MaximumLength(200).When(r => r.Name is not null);
            RuleFor(r => r.Category).MaximumLength(100);
            RuleFor(r => r.Items).Must(i => i is null || i.Count <= TreatmentPlanRules.MaxItems)
                .WithMessage($"At most {TreatmentPlanRules.MaxItems} items.");
            RuleForEach(r => r.Items).NotNull().SetValidator(new TreatmentPlanRules.ItemValidator());
        }
    }

    private const string Sql = """
        update treatment_templates
           set name = coalesce(@Name, name),
               category = case when @Category::text is null then category else nullif(btrim(@Category), '') end,
               updated_at = now()
         where clinic_id = @ClinicId and id = @Id
        returning id
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/treatment-templates")
            .MapPatch("/{id:guid}", Handle)
            .RequireDoctorOrAdmin()
            .WithName(nameof(UpdateTreatmentTemplate))
            .WithSummary("Change a treatment template; items given replace the old ones");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(
        Guid id, Request request, Tenant tenant, Validator validator, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        var updated = await tenant.QuerySingleOrDefaultAsync<Guid?>(Sql,
            new { tenant.ClinicId, Id = id, Name = request.Name?.Trim(), request.Category }, ct);
        if (updated is null)
        {
            return ApiProblem.NotFound();
        }

        if (request.Items is not null)
        {
            await TreatmentPlanRules.ReplaceTemplateItemsAsync(tenant, tenant.ClinicId, id, request.Items, ct);
        }

        var fields = new[] { ("name", request.Name), ("category", request.Category), ("items", request.Items is null ? null : "") }
            .Where(f => f.Item2 is not null).Select(f => f.Item1).ToList();
        await tenant.AuditAsync("treatment_template.update", "treatment_template", id, new { fields }, ct);
        var (template, items) = (await TreatmentPlanRules.LoadTemplateAsync(tenant, tenant.ClinicId, id, ct))!.Value;
        return TypedResults.Ok(Response.From(template, items));
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
