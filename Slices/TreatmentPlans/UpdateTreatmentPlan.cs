using Carter;
using ClinicFlow.Infrastructure;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.TreatmentPlans;

/// <summary>
/// PATCH /api/treatment-plans/{id}: changes title, notes, status (through the status machine) and
/// replaces the items. Null keeps a field, "" clears the notes; audited with field names only.
/// </summary>
public sealed class UpdateTreatmentPlan : ICarterModule
{
    public sealed record Request(string? Title, string? Status, string? Notes, IReadOnlyList<ItemInput>? Items);

    public sealed record ItemInput(string? Description, string? Code, int? Tooth, int? Quantity, long? UnitPriceCents) : TreatmentPlanRules.IItem;

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.Title).NotEmpty().MaximumLength(200).When(r => r.Title is not null);
            RuleFor(r => r.Status).Must(s => s is null || TreatmentPlanRules.Statuses.Contains(s))
                .WithMessage("Use draft, proposed, accepted, in_progress, completed or cancelled.");
            RuleFor(r => r.Notes).MaximumLength(10_000);
            RuleFor(r => r.Items).Must(i => i is null || i.Count <= TreatmentPlanRules.MaxItems)
                .WithMessage($"At most {TreatmentPlanRules.MaxItems} items.");
            RuleForEach(r => r.Items).NotNull().SetValidator(new TreatmentPlanRules.ItemValidator());
        }
    }

    // The plan is locked first, so concurrent changes (and a payment plan being created) take turns.
    private const string LockSql = """
        select t.id
        from treatment_plans t
        join patients p on p.clinic_id = t.clinic_id and p.id = t.patient_id and p.erased_at is null
        where t.clinic_id = @ClinicId and t.id = @Id
        for update of t
        """;

    private const string UpdateSql = $"""
        update treatment_plans
           set title = @Title, notes = @Notes, status = @Status,
               accepted_at = case when @Status = 'accepted' and accepted_at is null then now() else accepted_at end,
               completed_at = case when @Status = 'completed' and completed_at is null then now() else completed_at end,
               cancelled_at = case when @Status = 'cancelled' and cancelled_at is null then now() else cancelled_at end,
               status_changed_at = case when @Status <> status then now() else status_changed_at end,
               retain_until = {TreatmentPlanRules.RetainUntilSql}, updated_at = now()
         where clinic_id = @ClinicId and id = @Id
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/treatment-plans")
            .MapPatch("/{id:guid}", Handle)
            .RequireDoctorOrAdmin()
            .WithName(nameof(UpdateTreatmentPlan))
            .WithSummary("Change a treatment plan: title, notes, status (status machine), items (replaced)")
            .ProducesErrors(StatusCodes.Status409Conflict);

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(
        Guid id, Request request, Tenant tenant, Validator validator, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        if (await tenant.QuerySingleOrDefaultAsync<Guid?>(LockSql, new { tenant.ClinicId, Id = id }, ct) is null
            || await TreatmentPlanRules.LoadAsync(tenant, tenant.ClinicId, id, ct) is not { } current)
        {
            return ApiProblem.NotFound();
        }

        var (plan, items) = current;
        var status = request.Status ?? plan.Status;
        if (status != plan.Status && !TreatmentPlanRules.CanMove(plan.Status, status))
        {
            return TreatmentPlanRules.InvalidState(plan.Status, status);
        }

        var title = request.Title?.Trim() ?? plan.Title;
        var notes = request.Notes is null ? plan.Notes : request.Notes.TrimToNull();
        var itemsChanged = request.Items is not null && !SameItems(request.Items, items);
        if (itemsChanged)
        {
            if (!TreatmentPlanRules.IsOpen(plan.Status))
            {
                return TreatmentPlanRules.ItemsLocked(plan.Status);
            }

            if (plan.PaymentPlanId is not null)
            {
                return TreatmentPlanRules.ItemsPaid();
            }
        }

        var fields = new List<string>();
        if (title != plan.Title)
        {
            fields.Add("title");
        }

        if (notes != plan.Notes)
        {
            fields.Add("notes");
        }

        if (itemsChanged)
        {
            fields.Add("items");
        }

        if (fields.Count == 0 && status == plan.Status)
        {
            return TypedResults.Ok(Response.From(plan, items));
        }

        await tenant.ExecuteAsync(UpdateSql, new { tenant.ClinicId, Id = id, Title = title, Notes = notes, Status = status }, ct);
        if (itemsChanged)
        {
            await TreatmentPlanRules.ReplacePlanItemsAsync(tenant, tenant.ClinicId, id, request.Items!, ct);
        }

        if (fields.Count > 0)
        {
            await tenant.AuditAsync("treatment_plan.update", "treatment_plan", id, new { fields }, ct);
        }

        if (status != plan.Status)
        {
            await tenant.AuditAsync("treatment_plan.status", "treatment_plan", id, new { from = plan.Status, to = status }, ct);
        }

        var (updated, updatedItems) = (await TreatmentPlanRules.LoadAsync(tenant, tenant.ClinicId, id, ct))!.Value;
        return TypedResults.Ok(Response.From(updated, updatedItems));
    }

    private static bool SameItems(IReadOnlyList<ItemInput> given, IReadOnlyList<TreatmentPlanRules.ItemRow> stored) =>
        given.Count == stored.Count && given.Zip(stored).All(p =>
            p.First.Description!.Trim() == p.Second.Description && p.First.Code.TrimToNull() == p.Second.Code
            && p.First.Tooth == p.Second.Tooth && p.First.Quantity == p.Second.Quantity && p.First.UnitPriceCents == p.Second.UnitPriceCents);

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
