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

    public sealed record ClinicDto(Guid Id, string Name, string Timezone, string Country, string Currency, string Locale,
        string? Phone, string? Address, string Plan, string SubscriptionStatus, DateTimeOffset? SubscriptionExpiresAt,
        bool Active, int? MaxDoctorsOverride, int? MaxUsersOverride, int ActiveUsers);

    public sealed record Limits(int? Doctors, int? Users);

    public sealed record Usage(int Users);

    public sealed record Response(UserDto User, ClinicSummary? Clinic, string? Plan, Limits? Limits, Usage? Usage, bool HasPin);

    public sealed record ClinicSummary(Guid Id, string Name, string Timezone, string Country, string Currency, string Locale,
        string? Phone, string? Address, string Plan, string SubscriptionStatus, DateTimeOffset? SubscriptionExpiresAt, bool Active);

    private const string UserSql = """
        select id, email, full_name, role, active, phone, locale, clinic_id, created_at
        from users where id = @UserId
        """;

    private const string PinSql = "select pin_hash is not null from users where id = @UserId";

    private const string ClinicSql = """
        select c.id, c.name, c.timezone, c.country, c.currency, c.locale, c.phone, c.address, c.plan,
               c.subscription_status, c.subscription_expires_at, c.active, c.max_doctors_override, c.max_users_override,
               (select count(*) from users u where u.clinic_id = c.id and u.active)::int as active_users
        from clinics c where c.id = @ClinicId
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
        var user = await tenant.QuerySingleAsync<UserDto>(UserSql, new { tenant.UserId }, ct);
        var hasPin = await tenant.QuerySingleAsync<bool>(PinSql, new { tenant.UserId }, ct);
        if (!tenant.HasClinic)
        {
            return TypedResults.Ok(new Response(user, null, null, null, null, hasPin));
        }

        var c = await tenant.QuerySingleAsync<ClinicDto>(ClinicSql, new { tenant.ClinicId }, ct);
        var (doctors, users) = ClinicRules.Limits(c.Plan, c.MaxDoctorsOverride, c.MaxUsersOverride);
        var summary = new ClinicSummary(c.Id, c.Name, c.Timezone, c.Country, c.Currency, c.Locale, c.Phone, c.Address, c.Plan,
            c.SubscriptionStatus, c.SubscriptionExpiresAt, c.Active);
        return TypedResults.Ok(new Response(user, summary, c.Plan, new Limits(doctors, users), new Usage(c.ActiveUsers), hasPin));
    }
}
