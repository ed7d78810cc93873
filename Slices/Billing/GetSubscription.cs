using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Clinics;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Billing;

/// <summary>GET /api/billing/subscription: the clinic's plan, status, period end, limits and usage (open even when expired).</summary>
public sealed class GetSubscription : ICarterModule
{
    private const string Sql = """
        select c.plan, c.subscription_status, c.subscription_expires_at,
               (c.subscription_status = 'expired' or coalesce(c.subscription_expires_at < now(), false)) as expired,
               c.stripe_customer_id is not null as has_billing_account,
               c.max_doctors_override, c.max_users_override,
               (select count(*) from users u where u.clinic_id = c.id and u.active)::int as active_users,
               (select count(*) from team_invites i
                 where i.clinic_id = c.id and i.accepted_at is null and i.revoked_at is null and i.expires_at > now())::int as pending_invites,
               (select count(*) from doctors d where d.clinic_id = c.id and d.active)::int as active_doctors
        from clinics c
        where c.id = @ClinicId
        """;

    private sealed record Row(string Plan, string SubscriptionStatus, DateTimeOffset? SubscriptionExpiresAt, bool Expired,
        bool HasBillingAccount, int? MaxDoctorsOverride, int? MaxUsersOverride, int ActiveUsers, int PendingInvites, int ActiveDoctors);

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/billing")
            .MapGet("/subscription", Handle)
            .RequireAdmin()
            .AllowExpiredSubscription()
            .WithName(nameof(GetSubscription))
            .WithSummary("The clinic's plan, subscription status, period end, limits and usage");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(Tenant tenant, CancellationToken ct)
    {
        var r = await tenant.QuerySingleAsync<Row>(Sql, new { tenant.ClinicId }, ct);
        var (doctors, users) = ClinicRules.Limits(r.Plan, r.MaxDoctorsOverride, r.MaxUsersOverride);
        return TypedResults.Ok(new Response(
            r.Plan,
            r.Expired ? "expired" : r.SubscriptionStatus,
            r.SubscriptionExpiresAt,
            r.HasBillingAccount,
            new Limits(doctors, users),
            new Usage(r.ActiveUsers, r.PendingInvites, r.ActiveUsers + r.PendingInvites, r.ActiveDoctors)));
    }

    /// <summary>Null = unlimited; a superadmin override wins over the plan's number.</summary>
    public sealed record Limits(int? Doctors, int? Users);

    /// <summary>Seats = active users plus open invites: what the user limit counts.</summary>
    public sealed record Usage(int Users, int PendingInvites, int Seats, int Doctors);

    public sealed record Response(string Plan, string Status, DateTimeOffset? CurrentPeriodEnd, bool HasBillingAccount, Limits Limits, Usage Usage);
}
