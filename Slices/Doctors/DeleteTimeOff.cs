using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Waitlist;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Doctors;

/// <summary>
/// DELETE /api/doctors/{id}/time-off/{timeOffId}: an admin removes one absence of that doctor; the
/// time it frees is offered to the waiting list in the same transaction.
/// </summary>
public sealed class DeleteTimeOff : ICarterModule
{
    private const string Sql = """
        delete from doctor_time_off
        where clinic_id = @ClinicId and doctor_id = @DoctorId and id = @Id
        returning id, starts_at, ends_at
        """;

    private sealed record Deleted(Guid Id, DateTimeOffset StartsAt, DateTimeOffset EndsAt);

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/doctors")
            .MapDelete("/{id:guid}/time-off/{timeOffId:guid}", Handle)
            .RequireAdmin()
            .WithName(nameof(DeleteTimeOff))
            .WithSummary("Remove a doctor's time off");

    private static async Task<Results<NoContent, ApiProblem>> Handle(Guid id, Guid timeOffId, Tenant tenant, TimeProvider clock,
        CancellationToken ct)
    {
        var deleted = await tenant.QuerySingleOrDefaultAsync<Deleted>(Sql, new { tenant.ClinicId, DoctorId = id, Id = timeOffId }, ct);
        if (deleted is null)
        {
            return ApiProblem.NotFound();
        }

        await tenant.AuditAsync("doctor.time_off_delete", "doctor_time_off", timeOffId, new { doctorId = id }, ct);
        await WaitlistMachine.ReleaseAsync(tenant, tenant.ClinicId, id, deleted.StartsAt, deleted.EndsAt, "time_off.delete",
            clock.GetUtcNow(), ct);
        return TypedResults.NoContent();
    }
}
