using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Photos;

/// <summary>DELETE /api/photos/{id}: removes a photo and its ciphertext.</summary>
public sealed class DeletePhoto : ICarterModule
{
    private const string Sql = """
        delete from photos ph
        using patients p
        where ph.clinic_id = @ClinicId and ph.id = @Id
          and p.clinic_id = ph.clinic_id and p.id = ph.patient_id and p.erased_at is null
        returning ph.patient_id
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/photos")
            .MapDelete("/{id:guid}", Handle)
            .RequireDoctorOrAdmin()
            .WithName(nameof(DeletePhoto))
            .WithSummary("Delete a photo and its ciphertext");

    private static async Task<Results<NoContent, ApiProblem>> Handle(Guid id, Tenant tenant, CancellationToken ct)
    {
        var patientId = await tenant.QuerySingleOrDefaultAsync<Guid?>(Sql, new { tenant.ClinicId, Id = id }, ct);
        if (patientId is null)
        {
            return ApiProblem.NotFound();
        }

        await tenant.AuditAsync("photo.delete", "photo", id, new { patientId }, ct);
        return TypedResults.NoContent();
    }
}
