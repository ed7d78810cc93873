using System.Text.Json;
using ClinicFlow.Infrastructure;
using Dapper;
using FluentValidation;

namespace ClinicFlow.Slices.TreatmentPlans;

/// <summary>
/// One model of treatment plan behind both route families (/api/treatment-plans and
/// /api/dental/treatment-plans) and its templates: the status machine, the item rules (FDI tooth
/// numbers), writing items, and reading plans with their items and SQL-computed totals.
/// </summary>
public static class TreatmentPlanRules
{
    public const string Draft = "draft";
    public const string Proposed = "proposed";
    public const string Accepted = "accepted";
    public const string InProgress = "in_progress";
    public const string Completed = "completed";
    public const string Cancelled = "cancelled";

    public static readonly string[] Statuses = [Draft, Proposed, Accepted, InProgress, Completed, Cancelled];

    /// <summary>Statuses a plan may be created in: the later ones are reached through the machine.</summary>
    public static readonly string[] InitialStatuses = [Draft, Proposed, Accepted];

    /// <summary>Plans whose value the patient agreed to: they can carry a payment plan and count as revenue.</summary>
    public static readonly string[] AcceptedStatuses = [Accepted, InProgress, Completed];

    public const int MaxItems = 200;

    /// <summary>Treatment documentation is kept 10 years after its last change (§ 630f BGB).</summary>
    public const string RetainUntilSql = "now() + interval '10 years'";

    /// <summary>draft → proposed → accepted → in_progress → completed; cancelled from any open state.</summary>
    public static bool CanMove(string from, string to) => (from, to) switch
    {
        (Draft, Proposed) => true,
        (Proposed, Accepted) => true,
        (Accepted, InProgress) => true,
        (InProgress, Completed) => true,
        (Draft or Proposed or Accepted or InProgress, Cancelled) => true,
        _ => false,
    };

    public static bool IsOpen(string status) => status is not (Completed or Cancelled);

    public static ApiProblem InvalidState(string from, string to) => ApiProblem.Conflict(ErrorCodes.InvalidState, new Text(
        $"A treatment plan that is {from} cannot become {to}.",
        $"Un plan de tratamiento en estado {from} no puede pasar a {to}.",
        $"Ein Behandlungsplan im Status {from} kann nicht zu {to} wechseln."));

    public static ApiProblem ItemsLocked(string status) => ApiProblem.Conflict(ErrorCodes.InvalidState, new Text(
        $"The items of a {status} treatment plan cannot change.",
        $"Los ítems de un plan de tratamiento en estado {status} no pueden cambiar.",
        $"Die Positionen eines Behandlungsplans im Status {status} können nicht geändert werden."));

    public static ApiProblem ItemsPaid() => ApiProblem.Conflict(ErrorCodes.Conflict, new Text(
        "The treatment plan has a payment plan: its items can no longer change.",
        "El plan de tratamiento tiene un plan de pagos: sus ítems ya no pueden cambiar.",
        "Der Behandlungsplan hat einen Zahlungsplan: seine Positionen können nicht mehr geändert werden."));

    /// <summary>FDI two-digit notation: permanent teeth 11–48 (quadrants 1–4, teeth 1–8), deciduous 51–85 (quadrants 5–8, teeth 1–5).</summary>
    public static bool IsFdiTooth(int tooth) =>
        (tooth / 10 is >= 1 and <= 4 && tooth % 10 is >= 1 and <= 8)
        || (tooth / 10 is >= 5 and <= 8 && tooth % 10 is >= 1 and <= 5);

    /// <summary>What every slice's item record offers, so one validator and one writer serve them all.</summary>
    public interface IItem
    {
        string? Description { get; }

        string? Code { get; }

        int? Tooth { get; }

        int? Quantity { get; }

        long? UnitPriceCents { get; }
    }

    public sealed class ItemValidator : AbstractValidator<IItem>
    {
        public ItemValidator()
        {
            RuleFor(i => i.Description).NotEmpty().MaximumLength(500);
            RuleFor(i => i.Code).MaximumLength(50);
            RuleFor(i => i.Tooth).Must(t => t is null || IsFdiTooth(t.Value))
                .WithMessage("Use an FDI tooth number: permanent 11–48, deciduous 51–85.");
            RuleFor(i => i.Quantity).NotNull().InclusiveBetween(1, 1000);
            RuleFor(i => i.UnitPriceCents).NotNull().InclusiveBetween(0, 100_000_000_000);
        }
    }

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>Items as the JSON the writers below unpack in SQL, in the order given.</summary>
    public static string ItemsJson(IEnumerable<IItem> items) =>
        JsonSerializer.Serialize(items.Select(i => new
        {
            description = i.Description!.Trim(),
            code = i.Code.TrimToNull(),
            tooth = i.Tooth,
            quantity = i.Quantity,
            unitPriceCents = i.UnitPriceCents,
        }), Json);

    private const string ReplacePlanItemsSql = """
        delete from treatment_plan_items where clinic_id = @ClinicId and plan_id = @Id;
        insert into treatment_plan_items (clinic_id, plan_id, position, description, code, tooth, quantity, unit_price_cents)
        select @ClinicId, @Id, e.position::int, e.item->>'description', e.item->>'code', (e.item->>'tooth')::smallint,
               (e.item->>'quantity')::int, (e.item->>'unitPriceCents')::bigint
        from jsonb_array_elements(@Items::jsonb) with ordinality as e(item, position);
        """;

    private const string ReplaceTemplateItemsSql = """
        delete from treatment_template_items where clinic_id = @ClinicId and template_id = @Id;
        insert into treatment_template_items (clinic_id, template_id, position, description, code, tooth, quantity, unit_price_cents)
        select @ClinicId, @Id, e.position::int, e.item->>'description', e.item->>'code', (e.item->>'tooth')::smallint,
               (e.item->>'quantity')::int, (e.item->>'unitPriceCents')::bigint
        from jsonb_array_elements(@Items::jsonb) with ordinality as e(item, position);
        """;

    // A template's items copied into a plan in one statement (prefill).
    private const string CopyTemplateItemsSql = """
        insert into treatment_plan_items (clinic_id, plan_id, position, description, code, tooth, quantity, unit_price_cents)
        select @ClinicId, @Id, position, description, code, tooth, quantity, unit_price_cents
        from treatment_template_items
        where clinic_id = @ClinicId and template_id = @TemplateId
        """;

    public static Task ReplacePlanItemsAsync(DbScope scope, Guid clinicId, Guid planId, IEnumerable<IItem> items, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(scope);
        return scope.ExecuteAsync(ReplacePlanItemsSql, new { ClinicId = clinicId, Id = planId, Items = ItemsJson(items) }, ct);
    }

    public static Task ReplaceTemplateItemsAsync(DbScope scope, Guid clinicId, Guid templateId, IEnumerable<IItem> items, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(scope);
        return scope.ExecuteAsync(ReplaceTemplateItemsSql, new { ClinicId = clinicId, Id = templateId, Items = ItemsJson(items) }, ct);
    }

    public static Task CopyTemplateItemsAsync(DbScope scope, Guid clinicId, Guid planId, Guid templateId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(scope);
        return scope.ExecuteAsync(CopyTemplateItemsSql, new { ClinicId = clinicId, Id = planId, TemplateId = templateId }, ct);
    }

    /// <summary>A plan as stored, with its SQL-computed total; the patient must not be erased.</summary>
    public sealed record PlanRow(Guid Id, Guid PatientId, Guid? TemplateId, string Title, string Status, string? Notes, long TotalCents,
        Guid? PaymentPlanId, DateTimeOffset? AcceptedAt, DateTimeOffset RetainUntil, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

    public sealed record ItemRow(Guid PlanId, string Description, string? Code, int? Tooth, int Quantity, long UnitPriceCents);

    /// <summary>The columns of <see cref="PlanRow"/> from <c>treatment_plan_summaries s</c>.</summary>
    public const string PlanColumns = """
        s.id, s.patient_id, s.template_id, s.title, s.status, s.notes, s.total_cents, s.payment_plan_id, s.accepted_at,
        s.retain_until, s.created_at, s.updated_at
        """;

    private const string PlanSql = $"""
        select {PlanColumns}
        from treatment_plan_summaries s
        join patients p on p.clinic_id = s.clinic_id and p.id = s.patient_id and p.erased_at is null
        where s.clinic_id = @ClinicId and s.id = @Id
        """;

    private const string ItemsSql = """
        select plan_id, description, code, tooth::int as tooth, quantity, unit_price_cents
        from treatment_plan_items
        where clinic_id = @ClinicId and plan_id = any(@Ids)
        order by plan_id, position
        """;

    /// <summary>One plan of the clinic whose patient is not erased, or null.</summary>
    public static async Task<(PlanRow Plan, IReadOnlyList<ItemRow> Items)?> LoadAsync(DbScope scope, Guid clinicId, Guid id, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(scope);
        var plan = await scope.QuerySingleOrDefaultAsync<PlanRow>(PlanSql, new { ClinicId = clinicId, Id = id }, ct);
        if (plan is null)
        {
            return null;
        }

        var items = await ItemsOfAsync(scope, clinicId, [id], ct);
        return (plan, items[id].ToList());
    }

    /// <summary>The items of several plans in one query, in position order, grouped by plan.</summary>
    public static async Task<ILookup<Guid, ItemRow>> ItemsOfAsync(DbScope scope, Guid clinicId, Guid[] ids, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(scope);
        var rows = ids.Length == 0 ? [] : await scope.QueryAsync<ItemRow>(ItemsSql, new { ClinicId = clinicId, Ids = ids }, ct);
        return rows.ToLookup(r => r.PlanId);
    }

    /// <summary>Locks the patient (an erasure running now waits, or has already won) and says whether it can get records.</summary>
    public const string LockPatientSql = """
        select id from patients where clinic_id = @ClinicId and id = @PatientId and erased_at is null for share
        """;

    private const string TemplateExistsSql = """
        select id, name from treatment_templates where clinic_id = @ClinicId and id = @TemplateId
        """;

    public sealed record TemplateRef(Guid Id, string Name);

    public static Task<TemplateRef?> FindTemplateAsync(DbScope scope, Guid clinicId, Guid templateId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(scope);
        return scope.QuerySingleOrDefaultAsync<TemplateRef>(TemplateExistsSql, new { ClinicId = clinicId, TemplateId = templateId }, ct);
    }

    private const string InsertPlanSql = $"""
        insert into treatment_plans (id, clinic_id, patient_id, template_id, title, status, notes, accepted_at, retain_until, created_by)
        values (@Id, @ClinicId, @PatientId, @TemplateId, @Title, @Status, @Notes,
                case when @Status = 'accepted' then now() end, {RetainUntilSql}, @CreatedBy)
        """;

    /// <summary>What a create request of either route family carries.</summary>
    public sealed record NewPlan(Guid PatientId, string? Title, string? Status, string? Notes, IReadOnlyList<IItem>? Items, Guid? TemplateId);

    /// <summary>
    /// Creates a plan (both route families): the patient must be the clinic's and not erased, a template
    /// of the clinic prefills the title and, when no items are given, the items. Audited with field names only.
    /// </summary>
    public static async Task<(Guid Id, ApiProblem? Problem)> CreateAsync(Tenant tenant, NewPlan plan, string route, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        ArgumentNullException.ThrowIfNull(plan);
        if (await tenant.QuerySingleOrDefaultAsync<Guid?>(LockPatientSql, new { tenant.ClinicId, plan.PatientId }, ct) is null)
        {
            return (Guid.Empty, ApiProblem.NotFound());
        }

        TemplateRef? template = null;
        if (plan.TemplateId is { } templateId
            && (template = await FindTemplateAsync(tenant, tenant.ClinicId, templateId, ct)) is null)
        {
            return (Guid.Empty, ApiProblem.NotFound());
        }

        var id = Guid.CreateVersion7();
        await tenant.ExecuteAsync(InsertPlanSql, new
        {
            Id = id,
            tenant.ClinicId,
            plan.PatientId,
            TemplateId = template?.Id,
            Title = plan.Title.TrimToNull() ?? template!.Name,
            Status = plan.Status ?? Draft,
            Notes = plan.Notes.TrimToNull(),
            CreatedBy = tenant.UserId,
        }, ct);

        var itemCount = plan.Items?.Count ?? 0;
        if (plan.Items is { Count: > 0 } items)
        {
            await ReplacePlanItemsAsync(tenant, tenant.ClinicId, id, items, ct);
        }
        else if (template is not null)
        {
            await CopyTemplateItemsAsync(tenant, tenant.ClinicId, id, template.Id, ct);
            itemCount = -1;
        }

        var fields = new List<string> { "patientId", "title", "status" };
        if (plan.Notes.TrimToNull() is not null)
        {
            fields.Add("notes");
        }

        if (itemCount != 0)
        {
            fields.Add("items");
        }

        if (template is not null)
        {
            fields.Add("templateId");
        }

        await tenant.AuditAsync("treatment_plan.create", "treatment_plan", id,
            new { fields, status = plan.Status ?? Draft, via = route }, ct);
        return (id, null);
    }

    public sealed record TemplateRow(Guid Id, string Name, string? Category, long TotalCents, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

    public sealed record TemplateItemRow(Guid TemplateId, string Description, string? Code, int? Tooth, int Quantity, long UnitPriceCents);

    /// <summary>The columns of <see cref="TemplateRow"/> from <c>treatment_templates t</c>, the total computed in SQL.</summary>
    public const string TemplateColumns = """
        t.id, t.name, t.category,
        coalesce((select sum(i.quantity * i.unit_price_cents) from treatment_template_items i
                  where i.clinic_id = t.clinic_id and i.template_id = t.id), 0)::bigint as total_cents,
        t.created_at, t.updated_at
        """;

    private const string TemplateSql = $"""
        select {TemplateColumns} from treatment_templates t where t.clinic_id = @ClinicId and t.id = @Id
        """;

    private const string TemplateItemsSql = """
        select template_id, description, code, tooth::int as tooth, quantity, unit_price_cents
        from treatment_template_items
        where clinic_id = @ClinicId and template_id = any(@Ids)
        order by template_id, position
        """;

    public static async Task<(TemplateRow Template, IReadOnlyList<TemplateItemRow> Items)?> LoadTemplateAsync(DbScope scope, Guid clinicId,
        Guid id, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(scope);
        var template = await scope.QuerySingleOrDefaultAsync<TemplateRow>(TemplateSql, new { ClinicId = clinicId, Id = id }, ct);
        if (template is null)
        {
            return null;
        }

        var items = await TemplateItemsOfAsync(scope, clinicId, [id], ct);
        return (template, items[id].ToList());
    }

    public static async Task<ILookup<Guid, TemplateItemRow>> TemplateItemsOfAsync(DbScope scope, Guid clinicId, Guid[] ids, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(scope);
        var rows = ids.Length == 0 ? [] : await scope.QueryAsync<TemplateItemRow>(TemplateItemsSql, new { ClinicId = clinicId, Ids = ids }, ct);
        return rows.ToLookup(r => r.TemplateId);
    }

    // Treatment documentation outlives the erasure (Art. 17(3)(b), § 630f BGB): the plans stay locked
    // (the patient is 404 everywhere) and lose their free-text notes; items, prices and status remain
    // the record. The patient's tombstone is kept at least as long as the newest plan's retention.
    private const string RetainSql = """
        update treatment_plans set notes = null
        where clinic_id = @ClinicId and patient_id = @PatientId and notes is not null;

        update patients
           set retain_until = greatest(retain_until, (select max(retain_until) from treatment_plans
                                                      where clinic_id = @ClinicId and patient_id = @PatientId))
         where clinic_id = @ClinicId and id = @PatientId;
        """;

    /// <summary>Part of a patient's erasure: the plans are kept, minimised, and hold the tombstone until their retention ends.</summary>
    public static Task RetainForErasedPatientAsync(DbScope scope, Guid clinicId, Guid patientId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(scope);
        return scope.ExecuteAsync(RetainSql, new { ClinicId = clinicId, PatientId = patientId }, ct);
    }
}
