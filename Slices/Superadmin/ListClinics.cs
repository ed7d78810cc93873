using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Clinics;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Superadmin;

/// <summary>GET /api/superadmin/clinics: every clinic with plan, subscription and user counts, newest first.</summary>
public sealed class ListClinics : ICarterModule
{
    // q matches anywhere in the name, ignoring case and accents ("clinica" finds "Clínica").
    private const string Sql = """
        select c.id, c.name, c.country, c.plan, c.subscription_status, c.subscription_expires_at,
               (c.subscription_status = 'expired' or coalesce(c.subscription_expires_at < now(), false)) as expired,
               c.active,
               (select count(*) from users u where u.clinic_id = c.id)::int as users,
               (select count(*) from users u where u.clinic_id = c.id and u.active)::int as active_users,
               c.created_at
        from clinics c
        where (@Q::text is null or strpos(lower(unaccent(c.name)), lower(unaccent(@Q::text))) > 0)
          and (@Plan::text is null or c.plan = @Plan::text)
          and (@Status::text is null or c.subscription_status = @Status::text)
          and (@After::uuid is null or c.id < @After::uuid)
        order by c.id desc
        limit @Take
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapSuperadminGroup("/clinics")
            .MapGet("/", Handle)
            .WithName(nameof(ListClinics))
            .WithSummary("All clinics with plan, subscription status, expiry and user counts; filters q, plan, status");

    private static async Task<Results<Ok<Page<ClinicItem>>, ApiProblem>> Handle(
        string? q, string? plan, string? status, int? limit, string? cursor, SystemScope db, CancellationToken ct)
    {
        if (!Paging.TryReadGuid(limit, cursor, out var take, out var after, out var problem))
        {
            return problem!;
        }

        if (plan is not null && !ClinicRules.Plans.Contains(plan))
        {
            return ApiProblem.Validation("plan", new("Use basic, pro or enterprise.", "Use basic, pro o enterprise.", "Verwenden Sie basic, pro oder enterprise."));
        }

        if (status is not null && !ClinicRules.SubscriptionStatuses.Contains(status))
        {
            return ApiProblem.Validation("status", new(
                "Use trialing, active, past_due, canceled or expired.",
                "Use trialing, active, past_due, canceled o expired.",
                "Verwenden Sie trialing, active, past_due, canceled oder expired."));
        }

        var rows = await db.QueryAsync<ClinicItem>(Sql, new
        {
            Q = q.TrimToNull(),
            Plan = plan,
            Status = status,
            After = after,
            Take = take + 1,
        }, ct);
        return TypedResults.Ok(Paging.ToPage(rows, take, r => r.Id));
    }

    public sealed record ClinicItem(Guid Id, string Name, string Country, string Plan, string SubscriptionStatus,
        DateTimeOffset? SubscriptionExpiresAt, bool Expired, bool Active, int Users, int ActiveUsers, DateTimeOffset CreatedAt);
}
