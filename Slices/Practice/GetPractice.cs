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
            .WithSummary("The caller's practice details")
            .ProducesErrors(StatusCodes.Status403Forbidden);

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(Tenant tenant, CancellationToken ct)
    {
        var practice = await tenant.QuerySingleOrDefaultAsync<Response>(Sql, new { tenant.ClinicId }, ct);
        return practice is null ? ApiProblem.NotFound() : TypedResults.Ok(practice);
    }

    // Npgsql reports int[] columns as System.Array, which Dapper's constructor matching refuses; property mapping casts.
    public sealed record Response
    {
        public Guid Id { get; init; }

        public string Name { get; init; } = "";

        public string Timezone { get; init; } = "";

        public string Country { get; init; } = "";

        public string Currency { get; init; } = "";

        public string Locale { get; init; } = "";

        public string? Phone { get; init; }

        public string? Address { get; init; }

        public string Plan { get; init; } = "";

        public string SubscriptionStatus { get; init; } = "";

        public DateTimeOffset? SubscriptionExpiresAt { get; init; }

        public int[] ReminderHours { get; init; } = [];

        public bool IcsShowPatientNames { get; init; }

        public bool Active { get; init; }

        public DateTimeOffset CreatedAt { get; init; }
    }
}
