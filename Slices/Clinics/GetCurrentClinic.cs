using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Clinics;

/// <summary>
/// GET /api/clinics/current: the caller's clinic profile, reminder rules, ICS privacy and waitlist
/// offer time. The consent product reads the same row as GET /api/practice ("practice" is its name
/// for the clinic), so that route is this one operation under a second path and operation id.
/// </summary>
public sealed class GetCurrentClinic : ICarterModule
{
    private const string Sql = """
        select id, name, timezone, country, currency, locale, phone, address, plan, subscription_status,
               subscription_expires_at, reminder_hours, ics_show_patient_names, offer_minutes, active, created_at
        from clinics
        where id = @ClinicId
        """;

    public const string PracticeOperation = "GetPractice";

    public void AddRoutes(IEndpointRouteBuilder app)
    {
        app.MapTenantGroup("/clinics")
            .MapGet("/current", Handle)
            .WithName(nameof(GetCurrentClinic))
            .WithSummary("The caller's clinic profile");
        app.MapTenantGroup("/practice")
            .MapGet("/", Handle)
            .WithName(PracticeOperation)
            .WithSummary("The caller's practice details (the same clinic profile)");
    }

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(Tenant tenant, CancellationToken ct)
    {
        var clinic = await tenant.QuerySingleOrDefaultAsync<Response>(Sql, new { tenant.ClinicId }, ct);
        return clinic is null ? ApiProblem.NotFound() : TypedResults.Ok(clinic);
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

        /// <summary>How long a waitlist offer stays open (docs/waitlist.md).</summary>
        public int OfferMinutes { get; init; }

        public bool Active { get; init; }

        public DateTimeOffset CreatedAt { get; init; }
    }
}
