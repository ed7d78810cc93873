using System.Collections.Frozen;
using Carter;
using ClinicFlow.Infrastructure;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

// Not ClinicFlow.Slices.Audit: that namespace would hide Infrastructure.Audit (Audit.PlatformChain) from every other slice.
namespace ClinicFlow.Slices.AuditTrail;

/// <summary>POST /api/audit/vault-event: the app records that the signed-in user locked or unlocked the practice's key vault.</summary>
public sealed class RecordVaultEvent : ICarterModule
{
    private static readonly FrozenSet<string> Events = FrozenSet.Create(StringComparer.Ordinal, "lock", "unlock", "unlock_failed");

    public sealed record Request(string? Event, string? Reason);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.Event).Cascade(CascadeMode.Stop).NotEmpty().Must(e => Events.Contains(e!))
                .WithMessage("Use lock, unlock or unlock_failed.");
            RuleFor(r => r.Reason).MaximumLength(500);
        }
    }

    // The writer does not hand back the entry it appended (and appends with the commit unless asked to
    // run it now), but once it ran, this transaction holds the lock on the clinic's chain head, so the
    // head points at our entry until we commit.
    private const string Sql = """
        select l.id, l.occurred_at
        from audit_heads h
        join audit_log l on l.clinic_id = h.clinic_id and l.seq = h.seq
        where h.clinic_id = @ClinicId
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/audit")
            .MapPost("/vault-event", Handle)
            .WithName(nameof(RecordVaultEvent))
            .WithSummary("Record a vault lock, unlock or failed unlock in the audit trail");

    private static async Task<Results<Created<Response>, ApiProblem>> Handle(
        Request request, Tenant tenant, Validator validator, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        await tenant.AuditAsync("vault." + request.Event, "vault", tenant.UserId, new { request.Reason }, ct);
        await tenant.RunQueuedAsync(ct);
        var entry = await tenant.QuerySingleAsync<Entry>(Sql, new { tenant.ClinicId }, ct);
        // An audit entry has no URL of its own to point a Location header at.
        return TypedResults.Created((string?)null, new Response(entry.Id, request.Event!, entry.OccurredAt));
    }

    private sealed record Entry(Guid Id, DateTimeOffset OccurredAt);

    public sealed record Response(Guid Id, string Event, DateTimeOffset RecordedAt);
}
