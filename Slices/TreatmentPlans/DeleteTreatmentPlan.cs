using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.TreatmentPlans;

/// <summary>
/// DELETE /api/treatment-plans/{id}: removes a draft. A plan that was ever proposed is treatment
/// documentation under retention (§ 630f BGB): it is cancelled, never deleted (409 INVALID_STATE).
/// </summary>
public sealed class DeleteTreatmentPlan : ICarterModule
{
    private const string TargetSql = """
        select t.status
        from treatment_plans t
        join patients p on p.clinic_id = t.clinic_id and p.id = t.patient_id and p.erased_at is null
        where t.clinic_id = @ClinicId and t.id = @Id
        for update of t
        """;

    private const string DeleteSql = """
        delete from treatment_plans where clinic_id = @ClinicId and id = @Id and status = 'draft'
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/treatment-plans")
            .MapDelete("/{id:guid}", Handle)
            .RequireDoctorOrAdmin()
            .WithName(nameof(DeleteTreatmentPlan))
            .WithSummary("Delete a draft treatment plan (others are cancelled, never deleted)")
            .ProducesErrors(StatusCodes.Status409Conflict);

    private static async Task<Results<NoContent, ApiProblem>> Handle(Guid id, Tenant tenant, CancellationToken ct)
    {
        var status = await tenant.QuerySingleOrDefaultAsync<string>(TargetSql, new { tenant.ClinicId, Id = id }, ct);
        if (status is null)
        {
            return ApiProblem.NotFound();
        }

        if (status != TreatmentPlanRules.Draft)
        {
            return ApiProblem.Conflict(ErrorCodes.InvalidState, new(
                $"Only a draft can be deleted; a {status} treatment plan is documentation: cancel it instead.",
                $"Solo se puede eliminar un borrador; un plan en estado {status} es documentación: cancélelo.",
                $"Nur ein Entwurf kann gelöscht werden; ein Behandlungsplan im Status {status} ist Dokumentation: stornieren Sie ihn."));
        }

        await tenant.ExecuteAsync(DeleteSql, new { tenant.ClinicId, Id = id }, ct);
        await tenant.AuditAsync("treatment_plan.delete", "treatment_plan", id, null, ct);
        return TypedResults.NoContent();
    }
}
