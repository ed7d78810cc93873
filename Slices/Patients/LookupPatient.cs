using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Patients;

/// <summary>
/// GET /api/patients/lookup/{hash}: an admin or doctor finds the clinic's patient by the keyed hash
/// the client computed of the patient's identity. A hash may contain "/" (base64): sent as is or as %2F.
/// </summary>
public sealed class LookupPatient : ICarterModule
{
    private const string Sql = """
        select id, full_name, phone, email::text as email, birth_date, gender, document_id, notes, blocked,
               blocked_reason, lookup_hash, encrypted_data, created_at
        from patients
        where clinic_id = @ClinicId and lookup_hash = @Hash and erased_at is null
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/patients")
            .MapGet("/lookup/{**hash}", Handle)
            .RequireDoctorOrAdmin()
            .WithName(nameof(LookupPatient))
            .WithSummary("Find a patient by lookup hash");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(string hash, Tenant tenant, CancellationToken ct)
    {
        // The hash alphabet has no "%": any left in the route value is an escaped "/" or "+".
        var value = hash.Contains('%', StringComparison.Ordinal) ? Uri.UnescapeDataString(hash) : hash;
        if (!PatientRules.IsLookupHash(value))
        {
            return ApiProblem.Validation("hash", new(
                "Use up to 128 characters of A-Z, a-z, 0-9, _ - = + /.",
                "Use hasta 128 caracteres de A-Z, a-z, 0-9, _ - = + /.",
                "Verwenden Sie bis zu 128 Zeichen aus A-Z, a-z, 0-9, _ - = + /."));
        }

        var patient = await tenant.QuerySingleOrDefaultAsync<Response>(Sql, new { tenant.ClinicId, Hash = value }, ct);
        return patient is null ? ApiProblem.NotFound() : TypedResults.Ok(patient);
    }

    public sealed record Response(Guid Id, string FullName, string? Phone, string? Email, DateOnly? BirthDate, string? Gender,
        string? DocumentId, string? Notes, bool Blocked, string? BlockedReason, string? LookupHash, string? EncryptedData,
        DateTimeOffset CreatedAt);
}
