using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Clinics;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Auth;

/// <summary>GET /api/auth/me: the caller's profile, clinic summary, plan, limits and usage.</summary>
public sealed class GetMe : ICarterModule
{
    public sealed record UserDto(Guid Id, string Email, string FullName, string? Role, bool Active, string? Phone,
        string Locale, Guid? ClinicId, DateTimeOffset CreatedAt);

    public sealed record Limits(int? Doctors, int? Users);

    public sealed record Usage(int Users, int Doctors);

    public sealed record Response(UserDto User, ClinicSummary? Clinic, string? Plan, Limits? Limits, Usage? Usage, bool HasPin);

    public sealed record ClinicSummary(Guid Id, string Name, string Timezone, string Country, string Currency, string Locale,
        string? Phone, string? Address, string Plan, string SubscriptionStatus, DateTimeOffset? SubscriptionExpiresAt, bool Active);

    private sealed record Row(Guid Id, string Email, string FullName, string? Role, bool Active, string? Phone, string Locale,
        Guid? ClinicId, DateTimeOffset CreatedAt, bool HasPin, string? ClinicName, string? Timezone, string? Country,
        string? Currency, string? ClinicLocale, string? ClinicPhone, string? Address, string? Plan, string? SubscriptionStatus,
        DateTimeOffset? SubscriptionExpiresAt, bool? ClinicActive, int? MaxDoctorsOverride, int? MaxUsersOverride, int ActiveUsers,
        int ActiveDoctors);

    // One round trip: the profile, the clinic and its usage (the hot path of every app start).
    private const string Sql = """
        select u.id, u.email, u.full_name, u.role, u.active, u.phone, u.locale, u.clinic_id, u.created_at,
               u.pin_hash is not null as has_pin,
               c.name as clinic_name, c.timezone, c.country, c.currency, c.locale as clinic_locale, c.phone as clinic_phone,
               c.address, c.plan, c.subscription_status, c.subscription_expires_at, c.active as clinic_active,
               c.max_doctors_override, c.max_users_override,
               coalesce((select count(*) from users m where m.clinic_id = c.id and m.active), 0)::int as active_users,
               coalesce((select count(*) from doctors d where d.clinic_id = c.id and d.active), 0)::int as active_doctors
        from users u
        left join clinics c on c.id = u.clinic_id and c.id = @ClinicId
        where u.id = @UserId
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/auth")
            .MapGet("/me", Handle)
            .AllowNoClinic()
            .AllowExpiredSubscription()
            .WithName(nameof(GetMe))
            .WithSummary("The signed-in user with clinic, plan, limits and usage");

    private static async Task<Ok<Response>> Handle(Tenant tenant, CancellationToken ct)
    {
        var r = await tenant.QuerySingleAsync<Row>(Sql, new { tenant.UserId, tenant.ClinicId }, ct);
        var user = new UserDto(r.Id, r.Email, r.FullName, r.Role, r.Active, r.Phone, r.Locale, r.ClinicId, r.CreatedAt);
        if (!tenant.HasClinic || r.Plan is null)
        {
            return TypedResults.Ok(new Response(user, null, null, null, null, r.HasPin));
        }

        var (doctors, users) = ClinicRules.Limits(r.Plan, r.MaxDoctorsOverride, r.MaxUsersOverride);
        var summary = new ClinicSummary(tenant.ClinicId, r.ClinicName!, r.Timezone!, r.Country!, r.Currency!, r.ClinicLocale!,
            r.ClinicPhone, r.Address, r.Plan, r.SubscriptionStatus!, r.SubscriptionExpiresAt, r.ClinicActive ?? false);
        return TypedResults.Ok(new Response(user, summary, r.Plan, new Limits(doctors, users), new Usage(r.ActiveUsers, r.ActiveDoctors), r.HasPin));
    }
}
