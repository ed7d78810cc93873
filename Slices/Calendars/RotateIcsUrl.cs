using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Calendars;

/// <summary>
/// POST /api/doctors/{id}/ics-url/rotate: replaces the doctor's calendar secret, for an admin or the
/// linked doctor; the old URL answers 404 from the moment this commits.
/// </summary>
public sealed class RotateIcsUrl : ICarterModule
{
    private const string DoctorSql = """
        select user_id
        from doctors
        where clinic_id = @ClinicId and id = @Id
        """;

    private const string RotateSql = """
        update doctors
           set ics_token_hash = @Hash, ics_token_sealed = @Sealed, ics_token_created_at = now()
         where clinic_id = @ClinicId and id = @Id
        returning id
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/doctors")
            .MapPost("/{id:guid}/ics-url/rotate", Handle)
            .RequireRoles(AppRole.Admin, AppRole.Doctor)
            .WithName(nameof(RotateIcsUrl))
            .WithSummary("Replace the doctor's ICS subscription URL; the old one stops working");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(Guid id, Tenant tenant, SecretBox box, CancellationToken ct)
    {
        var doctor = await tenant.QuerySingleOrDefaultAsync<DoctorRow>(DoctorSql, new { tenant.ClinicId, Id = id }, ct);
        if (doctor is null)
        {
            return ApiProblem.NotFound();
        }

        if (!CalendarRules.MayManage(tenant, doctor.UserId))
        {
            return ApiProblem.Forbidden();
        }

        var secret = CalendarRules.NewSecret(box, tenant.ClinicId, id);
        var rotated = await tenant.QuerySingleOrDefaultAsync<Guid?>(RotateSql, new { tenant.ClinicId, Id = id, secret.Hash, secret.Sealed }, ct);
        if (rotated is null)
        {
            return ApiProblem.NotFound();
        }

        await tenant.AuditAsync("doctor.ics_rotate", "doctor", id, new { fields = CalendarRules.SecretFields }, ct);
        return TypedResults.Ok(new Response(CalendarRules.FeedUrl(tenant.Http, secret.Token)));
    }

    private sealed record DoctorRow(Guid? UserId);

    public sealed record Response(string Url);
}
