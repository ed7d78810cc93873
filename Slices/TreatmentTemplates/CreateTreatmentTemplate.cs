using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.TreatmentPlans;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.TreatmentTemplates;

/// <summary>POST /api/treatment-templates: an admin or doctor saves a reusable set of items that prefills treatment plans.</summary>
public sealed class CreateTreatmentTemplate : ICarterModule
{
    public sealed record Request(string? Name, string? Category, IReadOnlyList<ItemInput>? Items);

    public sealed record ItemInput(string? Description, string? Code, int? Tooth, int? Quantity, long? UnitPriceCents) : TreatmentPlanRules.IItem;

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.Name).NotEmpty().MaximumLength(200);
            RuleFor(r => r.Category).MaximumLength(100);
            RuleFor(r => r.Items).Must(i => i is null || i.Count <= TreatmentPlanRules.MaxItems)
                .WithMessage($"At most {TreatmentPlanRules.MaxItems} items.");
            RuleForEach(r => r.Items).NotNull().SetValidator(new TreatmentPlanRules.ItemValidator());
        }
    }

    private const string Sql = """
        insert into treatment_templates (id, clinic_id, name, category) values (@Id, @ClinicId, @Name, @Category)
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/treatment-templates")
            .MapPost("/", Handle)
            .RequireDoctorOrAdmin()
            .WithName(nameof(CreateTreatmentTemplate))
            .WithSummary("Create a treatment template (name, category, items)");

    private static async Task<Results<Created<Response>, ApiProblem>> Handle(
        Request request, Tenant tenant, Validator validator, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        var id = Guid.CreateVersion7();
        await tenant.ExecuteAsync(Sql, new { Id = id, tenant.ClinicId, Name = request.Name!.Trim(), Category = request.Category.TrimToNull() }, ct);
        if (request.Items is { Count: > 0 } items)
        {
            await TreatmentPlanRules.ReplaceTemplateItemsAsync(tenant, tenant.ClinicId, id, items, ct);
        }

        await tenant.AuditAsync("treatment_template.create", "treatment_template", id, new { items = request.Items?.Count ?? 0 }, ct);
        var (template, loaded) = (await TreatmentPlanRules.LoadTemplateAsync(tenant, tenant.ClinicId, id, ct))!.Value;
        return TypedResults.Created($"/api/treatment-templates/{id}", Response.From(template, loaded));
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
