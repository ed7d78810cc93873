using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.TreatmentTemplates;

/// <summary>DELETE /api/treatment-templates/{id}: removes a template; plans prefilled from it keep their items.</summary>
public sealed class DeleteTreatmentTemplate : ICarterModule
{
    private const string Sql = """
        delete from treatment_templates where clinic_id = @ClinicId and id = @Id returning id
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/treatment-templates")
            .MapDelete("/{id:guid}", Handle)
            .RequireDoctorOrAdmin()
            .WithName(nameof(DeleteTreatmentTemplate))
            .WithSummary("Delete a treatment template");

    private static async Task<Results<NoContent, ApiProblem>> Handle(Guid id, Tenant tenant, CancellationToken ct)
    {
        if (await tenant.QuerySingleOrDefaultAsync<Guid?>(Sql, new { tenant.ClinicId, Id = id }, ct) is null)
        {
            return ApiProblem.NotFound();
        }

        await tenant.AuditAsync("treatment_template.delete", "treatment_template", id, null, ct);
        return TypedResults.NoContent();
    }
}
