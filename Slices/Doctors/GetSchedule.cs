using Carter;
using ClinicFlow.Infrastructure;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Doctors;

/// <summary>GET /api/doctors/{id}/schedule: the doctor's weekly hours (local to the clinic's zone) and default slot length.</summary>
public sealed class GetSchedule : ICarterModule
{
    private const string Sql = """
        select slot_minutes
        from doctors
        where clinic_id = @ClinicId and id = @Id;

        select weekday::int as weekday, to_char(starts_at, 'HH24:MI') as start, to_char(ends_at, 'HH24:MI') as "end"
        from doctor_weekly_hours
        where clinic_id = @ClinicId and doctor_id = @Id
        order by weekday, starts_at;
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/doctors")
            .MapGet("/{id:guid}/schedule", Handle)
            .WithName(nameof(GetSchedule))
            .WithSummary("A doctor's weekly hours and default slot length");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(Guid id, Tenant tenant, CancellationToken ct)
    {
        await using var results = await tenant.QueryMultipleAsync(Sql, new { tenant.ClinicId, Id = id }, ct);
        var slotMinutes = await results.ReadSingleOrDefaultAsync<int?>();
        if (slotMinutes is null)
        {
            return ApiProblem.NotFound();
        }

        var weekly = (await results.ReadAsync<WeeklyRange>()).ToList();
        return TypedResults.Ok(new Response(slotMinutes.Value, weekly));
    }

    public sealed record WeeklyRange(int Weekday, string Start, string End);

    public sealed record Response(int SlotMinutes, IReadOnlyList<WeeklyRange> Weekly);
}
