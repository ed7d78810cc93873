using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Dental;

/// <summary>GET /api/dental/recall-campaigns: the clinic's recall campaigns with their counts, keyset paged by id.</summary>
public sealed class ListRecallCampaigns : ICarterModule
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
        where r.clinic_id = @ClinicId and (@After::uuid is null or r.id > @After::uuid)
        group by r.id
        order by r.id
        limit @Take
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/dental")
            .MapGet("/recall-campaigns", Handle)
            .RequireAdmin()
            .RequireProPlan()
            .WithName(nameof(ListRecallCampaigns))
            .WithSummary("List recall campaigns with their counts");

    private static async Task<Results<Ok<Page<Response>>, ApiProblem>> Handle(int? limit, string? cursor, Tenant tenant, CancellationToken ct)
    {
        if (!Paging.TryReadGuid(limit, cursor, out var take, out var after, out var problem))
        {
            return problem!;
        }

        var rows = await tenant.QueryAsync<Response>(Sql, new { tenant.ClinicId, After = after, Take = take + 1 }, ct);
        return TypedResults.Ok(Paging.ToPage(rows, take, r => r.Id));
    }

    public sealed record Response(Guid Id, string Name, int MonthsSinceLastVisit, string Message, DateTimeOffset CreatedAt, int Queued,
        int Pending, int Sent, int Failed, int Cancelled, int Booked);
}
