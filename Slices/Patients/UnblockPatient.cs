using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Patients;

/// <summary>POST /api/patients/{id}/unblock: an admin lifts a block; unblocking an unblocked patient changes nothing.</summary>
public sealed class UnblockPatient : ICarterModule
{
    private const string WasBlockedSql = """
        select blocked
        from patients
        where clinic_id = @ClinicId and id = @Id and erased_at is null
        for update
        """;

    private const string Sql = """
        update patients
           set blocked = false, blocked_reason = null, blocked_at = null,
               updated_at = case when blocked then now() else updated_at end
         where clinic_id = @ClinicId and id = @Id and erased_at is null
        returning id, full_name, phone, email::text as email, birth_date, gender, document_id, notes, blocked,
                  blocked_reason, lookup_hash, encrypted_data, created_at
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/patients")
            .MapPost("/{id:guid}/unblock", Handle)
            .RequireAdmin()
            .WithName(nameof(UnblockPatient))
            .WithSummary("Lift a patient's block");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(Guid id, Tenant tenant, CancellationToken ct)
    {
        var wasBlocked = await tenant.QuerySingleOrDefaultAsync<bool?>(WasBlockedSql, new { tenant.ClinicId, Id = id }, ct);
        if (wasBlocked is null)
        {
            return ApiProblem.NotFound();
        }

        var patient = await tenant.QuerySingleAsync<Response>(Sql, new { tenant.ClinicId, Id = id }, ct);
        if (wasBlocked.Value)
        {
            await tenant.AuditAsync("patient.unblock", "patient", id, new { blocked = false }, ct);
        }

        return TypedResults.Ok(patient);
    }

    public sealed record Response(Guid Id, string FullName, string? Phone, string? Email, DateOnly? BirthDate, string? Gender,
        string? DocumentId, string? Notes, bool Blocked, string? BlockedReason, string? LookupHash, string? EncryptedData,
        DateTimeOffset CreatedAt);
}
