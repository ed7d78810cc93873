using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Faq;

/// <summary>DELETE /api/faq/{id}: an admin removes a chatbot entry (FAQ entries hold no personal data; the audit entry remains).</summary>
public sealed class DeleteFaq : ICarterModule
{
    private const string Sql = """
        delete from faq_entries
        where clinic_id = @ClinicId and id = @Id
        returning id
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/faq")
            .MapDelete("/{id:guid}", Handle)
            .RequireAdmin()
            .WithName(nameof(DeleteFaq))
            .WithSummary("Remove a chatbot question and answer");

    private static async Task<Results<NoContent, ApiProblem>> Handle(Guid id, Tenant tenant, CancellationToken ct)
    {
        var deleted = await tenant.QuerySingleOrDefaultAsync<Guid?>(Sql, new { tenant.ClinicId, Id = id }, ct);
        if (deleted is null)
        {
            return ApiProblem.NotFound();
        }

        await tenant.AuditAsync("faq.delete", "faq", id, null, ct);
        return TypedResults.NoContent();
    }
}
