using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Practice;

/// <summary>GET /api/practice: the caller's practice details (the consent product's name for the clinic).</summary>
public sealed class GetPractice : ICarterModule
{
    private const string Sql = """
        select id, name, timezone, country, currency, locale, phone, address, plan, subscription_status,
               subscription_expires_at, reminder_hours, ics_show_patient_names, active, created_at
        from clinics
        where id = @ClinicId
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/practice")
            .MapGet("/", Handle)
            .WithName(nameof(GetPractice))
            .WithSummary("The caller's practice details");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(Tenant tenant, CancellationToken ct)
    {
        var practice = await tenant.QuerySingleOrDefaultAsync<Response>(Sql, new { tenant.ClinicId }, ct);
        return practice is null ? ApiProblem.NotFound() : TypedResults.Ok(practice);
    }

    public sealed record Response(Guid Id, string Name, string Timezone, string Country, string Currency, string Locale,
        string? Phone, string? Address, string Plan, string SubscriptionStatus, DateTimeOffset? SubscriptionExpiresAt,
        int[] ReminderHours, bool IcsShowPatientNames, bool Active, DateTimeOffset CreatedAt);
}
