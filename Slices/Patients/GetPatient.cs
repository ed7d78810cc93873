using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Patients;

/// <summary>GET /api/patients/{id}: one patient of the caller's clinic; erased patients are not found.</summary>
public sealed class GetPatient : ICarterModule
{
    private const string Sql = """
        select id, full_name, phone, email::text as email, birth_date, gender, document_id, notes, blocked,
               blocked_reason, lookup_hash, encrypted_data, created_at
        from patients
        where clinic_id = @ClinicId and id = @Id and erased_at is null
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/patients")
            .MapGet("/{id:guid}", Handle)
            .WithName(nameof(GetPatient))
            .WithSummary("One patient");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(Guid id, Tenant tenant, CancellationToken ct)
    {
        var patient = await tenant.QuerySingleOrDefaultAsync<Response>(Sql, new { tenant.ClinicId, Id = id }, ct);
        return patient is null ? ApiProblem.NotFound() : TypedResults.Ok(patient);
    }

    public sealed record Response(Guid Id, string FullName, string? Phone, string? Email, DateOnly? BirthDate, string? Gender,
        string? DocumentId, string? Notes, bool Blocked, string? BlockedReason, string? LookupHash, string? EncryptedData,
        DateTimeOffset CreatedAt);
}
