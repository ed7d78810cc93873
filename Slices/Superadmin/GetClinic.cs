using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Clinics;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Superadmin;

/// <summary>GET /api/superadmin/clinics/{id}: one clinic with its subscription, limit overrides, effective limits and usage.</summary>
public sealed class GetClinic : ICarterModule
{
    private const string Sql = """
        select c.id, c.name, c.timezone, c.country, c.currency, c.locale, c.phone, c.address, c.plan,
               c.subscription_status, c.subscription_expires_at,
               (c.subscription_status = 'expired' or coalesce(c.subscription_expires_at < now(), false)) as expired,
               c.max_doctors_override, c.max_users_override, c.active, c.stripe_customer_id, c.stripe_subscription_id,
               (select count(*) from users u where u.clinic_id = c.id)::int as users,
               (select count(*) from users u where u.clinic_id = c.id and u.active)::int as active_users,
               c.created_at, c.updated_at
        from clinics c
        where c.id = @Id
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapSuperadminGroup("/clinics")
            .MapGet("/{id:guid}", Handle)
            .WithName(nameof(GetClinic))
            .WithSummary("One clinic with subscription, limit overrides, effective limits and usage");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(Guid id, SystemScope db, CancellationToken ct)
    {
        var row = await db.QuerySingleOrDefaultAsync<Row>(Sql, new { Id = id }, ct);
        if (row is null)
        {
            return ApiProblem.NotFound();
        }

        var (doctors, users) = ClinicRules.Limits(row.Plan, row.MaxDoctorsOverride, row.MaxUsersOverride);
        return TypedResults.Ok(new Response(row.Id, row.Name, row.Timezone, row.Country, row.Currency, row.Locale, row.Phone,
            row.Address, row.Plan, row.SubscriptionStatus, row.SubscriptionExpiresAt, row.Expired, row.MaxDoctorsOverride,
            row.MaxUsersOverride, new Limits(doctors, users), new Usage(row.Users, row.ActiveUsers), row.Active,
            row.StripeCustomerId, row.StripeSubscriptionId, row.CreatedAt, row.UpdatedAt));
    }

    private sealed record Row(Guid Id, string Name, string Timezone, string Country, string Currency, string Locale,
        string? Phone, string? Address, string Plan, string SubscriptionStatus, DateTimeOffset? SubscriptionExpiresAt,
        bool Expired, int? MaxDoctorsOverride, int? MaxUsersOverride, bool Active, string? StripeCustomerId,
        string? StripeSubscriptionId, int Users, int ActiveUsers, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

    /// <summary>Effective limits: the override when set, else the plan's (null = unlimited).</summary>
    public sealed record Limits(int? Doctors, int? Users);

    public sealed record Usage(int Users, int ActiveUsers);

    public sealed record Response(Guid Id, string Name, string Timezone, string Country, string Currency, string Locale,
        string? Phone, string? Address, string Plan, string SubscriptionStatus, DateTimeOffset? SubscriptionExpiresAt,
        bool Expired, int? MaxDoctorsOverride, int? MaxUsersOverride, Limits Limits, Usage Usage, bool Active,
        string? StripeCustomerId, string? StripeSubscriptionId, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);
}
