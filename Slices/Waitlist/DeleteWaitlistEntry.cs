using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Waitlist;

/// <summary>
/// DELETE /api/waitlist/{id}: the patient leaves the waiting list. The entry stays, cancelled, with
/// its open offer closed and an offer message not yet sent dropped.
/// </summary>
public sealed class DeleteWaitlistEntry : ICarterModule
{
    // Locked for the rest of the request: a reply to its offer being handled meanwhile applies before or after.
    private const string EntrySql = """
        select status
        from waitlist_entries
        where clinic_id = @ClinicId and id = @Id
        for update
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/waitlist")
            .MapDelete("/{id:guid}", Handle)
            .WithName(nameof(DeleteWaitlistEntry))
            .WithSummary("Take a patient off the waiting list (the entry is cancelled)")
            .ProducesErrors(StatusCodes.Status409Conflict);

    private static async Task<Results<NoContent, ApiProblem>> Handle(Guid id, Tenant tenant, CancellationToken ct)
    {
        var status = await tenant.QuerySingleOrDefaultAsync<string>(EntrySql, new { tenant.ClinicId, Id = id }, ct);
        if (status is null)
        {
            return ApiProblem.NotFound();
        }

        // Leaving twice is harmless: the entry is already cancelled.
        if (status == WaitlistMachine.Cancelled)
        {
            return TypedResults.NoContent();
        }

        if (!WaitlistMachine.CanApply(WaitlistMachine.Trigger.Leave, status))
        {
            return ApiProblem.Conflict(ErrorCodes.InvalidState, new(
                $"A waitlist entry that is {status} cannot be cancelled.",
                $"Una entrada de la lista de espera en estado {status} no se puede cancelar.",
                $"Ein Wartelisteneintrag im Status {status} kann nicht storniert werden."));
        }

        await WaitlistMachine.LeaveAsync(tenant, tenant.ClinicId, id, ct);
        await tenant.AuditAsync("waitlist.cancel", "waitlist_entry", id, new { from = status, to = WaitlistMachine.Cancelled }, ct);
        return TypedResults.NoContent();
    }
}
