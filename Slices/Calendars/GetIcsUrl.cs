using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Calendars;

/// <summary>
/// GET /api/doctors/{id}/ics-url: the doctor's secret calendar subscription URL, for an admin or the
/// doctor linked to the row. The first call creates the secret (audited as doctor.ics_create); later
/// calls show the same URL again until it is rotated.
/// </summary>
public sealed class GetIcsUrl : ICarterModule
{
    private sealed record Doctor(Guid? UserId, string? IcsTokenSealed);

    private const string DoctorSql = """
        select user_id, ics_token_sealed
        from doctors
        where clinic_id = @ClinicId and id = @Id
        """;

    // Only the first writer stores a secret; a concurrent first call finds it set and re-reads it.
    private const string CreateSql = """
        update doctors
           set ics_token_hash = @Hash, ics_token_sealed = @Sealed, ics_token_created_at = now()
         where clinic_id = @ClinicId and id = @Id and ics_token_hash is null
        returning id
        """;

    private const string SealedSql = """
        select ics_token_sealed
        from doctors
        where clinic_id = @ClinicId and id = @Id
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/doctors")
            .MapGet("/{id:guid}/ics-url", Handle)
            .RequireRoles(AppRole.Admin, AppRole.Doctor)
            .WithName(nameof(GetIcsUrl))
            .WithSummary("The doctor's secret ICS subscription URL")
            .WithDescription("Admins, or the doctor linked to this row. The first call creates the secret (a write, audited "
                + "as doctor.ics_create); later calls return the same URL until POST …/ics-url/rotate replaces it.");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(Guid id, Tenant tenant, SecretBox box, CancellationToken ct)
    {
        var args = new { tenant.ClinicId, Id = id };
        var doctor = await tenant.QuerySingleOrDefaultAsync<Doctor>(DoctorSql, args, ct);
        if (doctor is null)
        {
            return ApiProblem.NotFound();
        }

        if (!CalendarRules.MayManage(tenant, doctor.UserId))
        {
            return ApiProblem.Forbidden();
        }

        if (doctor.IcsTokenSealed is { } existing)
        {
            return Url(tenant, CalendarRules.Open(box, existing, tenant.ClinicId, id));
        }

        // The first call creates the secret: this read writes.
        tenant.UseTransaction();
        var secret = CalendarRules.NewSecret(box, tenant.ClinicId, id);
        var created = await tenant.QuerySingleOrDefaultAsync<Guid?>(CreateSql,
            new { tenant.ClinicId, Id = id, secret.Hash, secret.Sealed }, ct);
        if (created is null)
        {
            var stored = await tenant.QuerySingleOrDefaultAsync<string?>(SealedSql, args, ct);
            return stored is null ? ApiProblem.NotFound() : Url(tenant, CalendarRules.Open(box, stored, tenant.ClinicId, id));
        }

        await tenant.AuditAsync("doctor.ics_create", "doctor", id, new { fields = CalendarRules.SecretFields }, ct);
        return Url(tenant, secret.Token);
    }

    private static Ok<Response> Url(Tenant tenant, string token) => TypedResults.Ok(new Response(CalendarRules.FeedUrl(tenant.Http, token)));

    public sealed record Response(string Url);
}
