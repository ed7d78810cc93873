using Carter;
using ClinicFlow.Infrastructure;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Dental;

/// <summary>
/// POST /api/dental/recall-campaigns: an admin of a Pro+ clinic invites back the patients whose last
/// completed visit is older than <c>monthsSinceLastVisit</c>: one WhatsApp message per eligible
/// patient (not blocked, not erased, with a phone, nothing booked ahead), queued in one set-based
/// insert in the same transaction as the campaign. <c>{name}</c> in the message becomes the
/// patient's first name.
/// </summary>
public sealed class CreateRecallCampaign : ICarterModule
{
    /// <summary>The approved Meta template recall messages go out with (docs/whatsapp.md).</summary>
    public const string Template = "recall_campaign";

    public sealed record Request(string? Name, int? MonthsSinceLastVisit, string? Message);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.Name).NotEmpty().MaximumLength(200);
            RuleFor(r => r.MonthsSinceLastVisit).NotNull().InclusiveBetween(1, 120);
            RuleFor(r => r.Message).NotEmpty().MaximumLength(1000);
        }
    }

    private const string EnabledSql = "select coalesce((select enabled from whatsapp_configs where clinic_id = @ClinicId), false)";

    private const string CampaignSql = """
        insert into recall_campaigns (id, clinic_id, name, months_since_last_visit, message, created_by)
        values (@Id, @ClinicId, @Name, @Months, @Message, @CreatedBy)
        returning id, name, months_since_last_visit, message, created_at
        """;

    private const string QueueSql = """
        insert into outbox_messages (id, clinic_id, channel, recipient, payload, kind, patient_id, campaign_id, due_at)
        select uuid_v7(), p.clinic_id, 'whatsapp', p.phone,
               jsonb_build_object(
                   'text', replace(@Message, '{name}', split_part(p.full_name, ' ', 1)),
                   'template', jsonb_build_object('name', @Template, 'language', c.locale, 'parameters',
                       jsonb_build_array(split_part(p.full_name, ' ', 1), c.name, replace(@Message, '{name}', split_part(p.full_name, ' ', 1))))),
               'recall', p.id, @Id, now()
        from patients p
        join clinics c on c.id = p.clinic_id
        where p.clinic_id = @ClinicId and p.erased_at is null and not p.blocked and p.phone is not null
          and not exists (select 1 from appointments f
                          where f.clinic_id = @ClinicId and f.patient_id = p.id and f.starts_at > now()
                            and f.status in ('scheduled', 'confirmed', 'checked_in'))
          and (select max(v.starts_at) from appointments v
               where v.clinic_id = @ClinicId and v.patient_id = p.id and v.status = 'completed')
              < now() - make_interval(months => @Months)
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/dental")
            .MapPost("/recall-campaigns", Handle)
            .RequireAdmin()
            .RequireProPlan()
            .WithName(nameof(CreateRecallCampaign))
            .WithSummary("Start a recall campaign: a WhatsApp message to every patient overdue for a visit")
            .ProducesErrors(StatusCodes.Status409Conflict);

    private static async Task<Results<Created<Response>, ApiProblem>> Handle(
        Request request, Tenant tenant, Validator validator, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        if (!await tenant.QuerySingleAsync<bool>(EnabledSql, new { tenant.ClinicId }, ct))
        {
            return ApiProblem.Conflict(ErrorCodes.Conflict, new(
                "Set up and enable WhatsApp for the clinic first.",
                "Primero configure y active WhatsApp para la clínica.",
                "Richten Sie zuerst WhatsApp für die Praxis ein und aktivieren Sie es."));
        }

        var args = new
        {
            Id = Guid.CreateVersion7(),
            tenant.ClinicId,
            Name = request.Name!.Trim(),
            Months = request.MonthsSinceLastVisit!.Value,
            Message = request.Message!.Trim(),
            CreatedBy = tenant.UserId,
            Template,
        };
        var campaign = await tenant.QuerySingleAsync<Row>(CampaignSql, args, ct);
        var queued = await tenant.ExecuteAsync(QueueSql, args, ct);
        tenant.OutboxTouched = queued > 0;
        await tenant.AuditAsync("recall_campaign.create", "recall_campaign", campaign.Id,
            new { monthsSinceLastVisit = campaign.MonthsSinceLastVisit, queued }, ct);
        return TypedResults.Created($"/api/dental/recall-campaigns/{campaign.Id}",
            new Response(campaign.Id, campaign.Name, campaign.MonthsSinceLastVisit, campaign.Message, campaign.CreatedAt, queued));
    }

    private sealed record Row(Guid Id, string Name, int MonthsSinceLastVisit, string Message, DateTimeOffset CreatedAt);

    public sealed record Response(Guid Id, string Name, int MonthsSinceLastVisit, string Message, DateTimeOffset CreatedAt, int Queued);
}
