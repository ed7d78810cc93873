using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Clinics;

/// <summary>GET /api/clinics/current: the caller's clinic profile, reminder rules and ICS privacy.</summary>
public sealed class GetCurrentClinic : ICarterModule
{
    private const string Sql = """
        select id, name, timezone, country, currency, locale, phone, address, plan, subscription_status,
               subscription_expires_at, reminder_hours, ics_show_patient_names, active, created_at
        from clinics
        where id = @ClinicId
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/clinics")
            .MapGet("/current", Handle)
            .WithName(nameof(GetCurrentClinic))
            .WithSummary("The caller's clinic profile");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(Tenant tenant, CancellationToken ct)
    {
        var clinic = await tenant.QuerySingleOrDefaultAsync<Response>(Sql, new { tenant.ClinicId }, ct);
        return clinic is null ? ApiProblem.NotFound() : TypedResults.Ok(clinic);
    }

    public sealed record Response(Guid Id, string Name, string Timezone, string Country, string Currency, string Locale,
        string? Phone, string? Address, string Plan, string SubscriptionStatus, DateTimeOffset? SubscriptionExpiresAt,
        int[] ReminderHours, bool IcsShowPatientNames, bool Active, DateTimeOffset CreatedAt);
}
