using Carter;
using ClinicFlow.Infrastructure;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using QRCoder;

namespace ClinicFlow.Slices.Attendance;

/// <summary>
/// GET /api/clinics/current/attendance-qr: an admin gets the QR code (PNG, or SVG with ?format=svg)
/// of the clinic's public check-in page; the clinic's token is created on the first request.
/// </summary>
public sealed class GetAttendanceQr : ICarterModule
{
    public sealed record Request(string? Format);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator() =>
            RuleFor(r => r.Format)
                .Must(f => f is null || IsSvg(f) || IsPng(f))
                .WithMessage("Use png or svg.");
    }

    private sealed record Active(Guid Id, string TokenSealed);

    private const string ActiveSql = """
        select id, token_sealed
        from attendance_tokens
        where clinic_id = @ClinicId and revoked_at is null
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/clinics")
            .MapGet("/current/attendance-qr", Handle)
            .RequireAdmin()
            .WithName(nameof(GetAttendanceQr))
            .WithSummary("QR code of the clinic's public check-in page (PNG, or SVG with format=svg)")
            .Produces<Stream>(StatusCodes.Status200OK, "image/png", "image/svg+xml");

    private static async Task<Results<FileContentHttpResult, ApiProblem>> Handle(
        [AsParameters] Request request, Tenant tenant, Validator validator, SecretBox secrets, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        var url = AttendanceRules.CheckInUrl(tenant.Http, await ActiveTokenAsync(tenant, secrets, ct));
        using var generator = new QRCodeGenerator();
        using var data = generator.CreateQrCode(url, QRCodeGenerator.ECCLevel.M);

        // The image carries a bearer secret: no cache may keep it after a rotation.
        tenant.Http.Response.Headers.CacheControl = "no-store";
        if (request.Format is { } format && IsSvg(format))
        {
            using var svg = new SvgQRCode(data);
            return TypedResults.File(System.Text.Encoding.UTF8.GetBytes(svg.GetGraphic(10)), "image/svg+xml");
        }

        using var png = new PngByteQRCode(data);
        return TypedResults.File(png.GetGraphic(10), "image/png");
    }

    /// <summary>The clinic's active token, issued now if it has none (race-safe: a concurrent issuer's token wins).</summary>
    private static async Task<string> ActiveTokenAsync(Tenant tenant, SecretBox secrets, CancellationToken ct)
    {
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var active = await tenant.QuerySingleOrDefaultAsync<Active>(ActiveSql, new { tenant.ClinicId }, ct);
            if (active is not null)
            {
                return secrets.Open(active.TokenSealed, AttendanceRules.SealContext(tenant.ClinicId, active.Id))
                    ?? throw new InvalidOperationException(
                        "The clinic's check-in token cannot be opened with Secrets:EncryptionKey; rotate it (POST /api/clinics/current/attendance-qr/rotate).");
            }

            if (await AttendanceRules.TryIssueAsync(tenant, secrets, ct) is { } issued)
            {
                await tenant.AuditAsync("attendance_qr.create", "attendance_token", issued.Id, null, ct);
                return issued.Token;
            }
        }

        throw new InvalidOperationException("No active check-in token could be read or issued.");
    }

    private static bool IsSvg(string format) => string.Equals(format.Trim(), "svg", StringComparison.OrdinalIgnoreCase);

    private static bool IsPng(string format) => string.Equals(format.Trim(), "png", StringComparison.OrdinalIgnoreCase);
}
