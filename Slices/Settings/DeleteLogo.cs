using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Settings;

/// <summary>DELETE /api/settings/logo: an admin removes the practice logo; the public URL answers 404 after.</summary>
public sealed class DeleteLogo : ICarterModule
{
    private const string Sql = "delete from practice_logos where clinic_id = @ClinicId";

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/settings")
            .MapDelete("/logo", Handle)
            .RequireAdmin()
            .WithName(nameof(DeleteLogo))
            .WithSummary("Remove the practice logo");

    private static async Task<Results<NoContent, ApiProblem>> Handle(Tenant tenant, CancellationToken ct)
    {
        if (await tenant.ExecuteAsync(Sql, new { tenant.ClinicId }, ct) == 0)
        {
            return ApiProblem.NotFound();
        }

        await tenant.AuditAsync("settings.logo_delete", "settings", tenant.ClinicId, null, ct);
        return TypedResults.NoContent();
    }
}
