using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Consent;

/// <summary>
/// PATCH /api/consent/{token}/revoke: an admin or doctor revokes a pending or submitted form of
/// their own clinic; a revoked link answers 410 and cannot be submitted. The token is looked up
/// within the caller's clinic only, so another clinic's token is a 404 like an unknown one.
/// Revoking again answers the first revocation unchanged.
/// </summary>
public sealed class RevokeConsentForm : ICarterModule
{
    private sealed record Form(Guid Id, DateTimeOffset? RevokedAt, DateTimeOffset? SubmittedAt);

    private const string FindSql = """
        select id, revoked_at, submitted_at
        from consent_forms
        where clinic_id = @ClinicId and token_hash = @TokenHash and locked_at is null
        for update
        """;

    private const string RevokeSql = """
        update consent_forms set revoked_at = now()
        where clinic_id = @ClinicId and id = @Id
        returning revoked_at
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/consent")
            .MapPatch("/{token}/revoke", Handle)
            .RequireDoctorOrAdmin()
            .WithName(nameof(RevokeConsentForm))
            .WithSummary("Revoke a consent form of the caller's clinic (pending or submitted)");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(string token, Tenant tenant, CancellationToken ct)
    {
        var form = token.Length > 200
            ? null
            : await tenant.QuerySingleOrDefaultAsync<Form>(FindSql, new { tenant.ClinicId, TokenHash = SecretBox.Hash(token) }, ct);
        if (form is null)
        {
            return ApiProblem.NotFound();
        }

        if (form.RevokedAt is { } already)
        {
            return TypedResults.Ok(new Response(form.Id, ConsentRules.Revoked, already, form.SubmittedAt));
        }

        var revokedAt = await tenant.QuerySingleAsync<DateTimeOffset>(RevokeSql, new { tenant.ClinicId, form.Id }, ct);
        await tenant.AuditAsync("consent.revoke", "consent_form", form.Id, new { wasSubmitted = form.SubmittedAt is not null }, ct);
        return TypedResults.Ok(new Response(form.Id, ConsentRules.Revoked, revokedAt, form.SubmittedAt));
    }

    public sealed record Response(Guid Id, string Status, DateTimeOffset RevokedAt, DateTimeOffset? SubmittedAt);
}
