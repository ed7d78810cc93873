using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Doctors;

/// <summary>GET /api/doctors/{id}: one doctor of the caller's clinic, active or not.</summary>
public sealed class GetDoctor : ICarterModule
{
    private const string Sql = """
        select id, full_name, specialty, email::text as email, phone, user_id, active, color, created_at
        from doctors
        where clinic_id = @ClinicId and id = @Id
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/doctors")
            .MapGet("/{id:guid}", Handle)
            .WithName(nameof(GetDoctor))
            .WithSummary("One doctor");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(Guid id, Tenant tenant, CancellationToken ct)
    {
        var doctor = await tenant.QuerySingleOrDefaultAsync<Response>(Sql, new { tenant.ClinicId, Id = id }, ct);
        return doctor is null ? ApiProblem.NotFound() : TypedResults.Ok(doctor);
    }

    public sealed record Response(Guid Id, string FullName, string? Specialty, string? Email, string? Phone, Guid? UserId,
        bool Active, string? Color, DateTimeOffset CreatedAt);
}
