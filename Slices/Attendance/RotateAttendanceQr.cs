using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Attendance;

/// <summary>POST /api/clinics/current/attendance-qr/rotate: an admin issues a new check-in token; the old QR stops working (410).</summary>
public sealed class RotateAttendanceQr : ICarterModule
{
    // Rotations of one clinic queue on its row, so concurrent rotations each revoke and issue in turn.
    private const string LockClinicSql = "select 1 from clinics where id = @ClinicId for no key update";

    private const string RevokeSql = """
        update attendance_tokens
           set revoked_at = now()
         where clinic_id = @ClinicId and revoked_at is null
        returning id
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/clinics")
            .MapPost("/current/attendance-qr/rotate", Handle)
            .RequireAdmin()
            .WithName(nameof(RotateAttendanceQr))
            .WithSummary("Issue a new check-in token; the old QR code stops working");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(Tenant tenant, SecretBox secrets, CancellationToken ct)
    {
        var revoked = new List<Guid>();
        AttendanceRules.Issued? issued = null;

        await tenant.ExecuteAsync(LockClinicSql, new { tenant.ClinicId }, ct);

        // A token issued concurrently by a first GET is committed by the time the insert gives way
        // to it; the next round revokes it too.
        for (var attempt = 0; attempt < 3 && issued is null; attempt++)
        {
            revoked.AddRange(await tenant.QueryAsync<Guid>(RevokeSql, new { tenant.ClinicId }, ct));
            issued = await AttendanceRules.TryIssueAsync(tenant, secrets, ct);
        }

        if (issued is null)
        {
            throw new InvalidOperationException("No check-in token could be issued.");
        }

        await tenant.AuditAsync("attendance_qr.rotate", "attendance_token", issued.Id, new { revoked }, ct);
        return TypedResults.Ok(new Response(AttendanceRules.CheckInUrl(tenant.Http, issued.Token), issued.CreatedAt));
    }

    public sealed record Response(string Url, DateTimeOffset CreatedAt);
}
