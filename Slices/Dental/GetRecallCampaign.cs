using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Dental;

/// <summary>
/// GET /api/dental/recall-campaigns/{id}: a campaign with its counts: <c>queued</c> (every message it
/// queued), <c>pending</c>, <c>sent</c>, <c>failed</c> (by the sender or reported by WhatsApp),
/// <c>cancelled</c> and <c>booked</c> (sent messages whose patient made an appointment afterwards).
/// </summary>
public sealed class GetRecallCampaign : ICarterModule
{
    private const string Sql = """
        select r.id, r.name, r.months_since_last_visit, r.message, r.created_at,
               count(m.id)::int as queued,
               count(m.id) filter (where m.status in ('pending', 'sending'))::int as pending,
               count(m.id) filter (where m.status = 'sent' and m.delivery_status is distinct from 'failed')::int as sent,
               count(m.id) filter (where m.status = 'failed' or m.delivery_status = 'failed')::int as failed,
               count(m.id) filter (where m.status = 'cancelled')::int as cancelled,
               count(m.id) filter (where m.status = 'sent' and exists (
                   select 1 from appointments a
                   where a.clinic_id = r.clinic_id and a.patient_id = m.patient_id and a.created_at > m.sent_at))::int as booked
        from recall_campaigns r
        left join outbox_messages m on m.clinic_id = r.clinic_id and m.campaign_id = r.id
        where r.clinic_id = @ClinicId and r.id = @Id
        group by r.id
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/dental")
            .MapGet("/recall-campaigns/{id:guid}", Handle)
            .RequireAdmin()
            .RequireProPlan()
            .WithName(nameof(GetRecallCampaign))
            .WithSummary("A recall campaign with its counts queued, sent, failed and booked");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(Guid id, Tenant tenant, CancellationToken ct)
    {
        var campaign = await tenant.QuerySingleOrDefaultAsync<Response>(Sql, new { tenant.ClinicId, Id = id }, ct);
        return campaign is null ? ApiProblem.NotFound() : TypedResults.Ok(campaign);
    }

    public sealed record Response(Guid Id, string Name, int MonthsSinceLastVisit, string Message, DateTimeOffset CreatedAt, int Queued,
        int Pending, int Sent, int Failed, int Cancelled, int Booked);
}
