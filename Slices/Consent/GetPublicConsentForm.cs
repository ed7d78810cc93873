using System.Text.Json;
using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Settings;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Consent;

/// <summary>
/// GET /api/consent/{token}: public; what the patient's page needs to show the form and encrypt
/// the answers: practice name and logo, the text, status, expiry and the public JWK the form named.
/// Nothing of the patient record. The first read marks the form opened (the funnel's middle step).
/// </summary>
public sealed class GetPublicConsentForm : ICarterModule
{
    private sealed record Form(Guid Id, Guid ClinicId, string Type, string Title, string Body, DateTimeOffset ExpiresAt,
        bool Expired, DateTimeOffset? OpenedAt, DateTimeOffset? SubmittedAt, DateTimeOffset? RevokedAt, string PracticeName,
        string? LogoEtag, string PublicKey);

    // The system connection sees every clinic: the token's hash resolves the form and its clinic.
    private const string Sql = """
        select f.id, f.clinic_id, f.type, f.title, f.body, f.expires_at, f.expires_at <= now() as expired,
               f.opened_at, f.submitted_at, f.revoked_at, c.name as practice_name, l.etag as logo_etag, k.jwk::text as public_key
        from consent_forms f
        join clinics c on c.id = f.clinic_id
        join practice_keys k on k.clinic_id = f.clinic_id and k.kid = f.kid
        left join practice_logos l on l.clinic_id = f.clinic_id
        where f.token_hash = @TokenHash and f.locked_at is null and c.active
        """;

    private const string OpenedSql = """
        update consent_forms set opened_at = now()
        where clinic_id = @ClinicId and id = @Id and opened_at is null
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapSystemGroup("/consent", RateLimits.PublicLinks)
            .MapGet("/{token}", Handle)
            .WithName(nameof(GetPublicConsentForm))
            .WithSummary("The patient's consent page: practice, text, status, expiry and the public key to encrypt to")
            .ProducesErrors(StatusCodes.Status404NotFound, StatusCodes.Status410Gone);

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(string token, SystemScope db, CancellationToken ct)
    {
        var form = token.Length > 200 ? null : await db.QuerySingleOrDefaultAsync<Form>(Sql, new { TokenHash = SecretBox.Hash(token) }, ct);
        if (form is null)
        {
            return ApiProblem.NotFound();
        }

        if (form.RevokedAt is not null)
        {
            return ApiProblem.Of(StatusCodes.Status410Gone, ErrorCodes.LinkRevoked);
        }

        if (form.SubmittedAt is null && form.Expired)
        {
            return ApiProblem.Of(StatusCodes.Status410Gone, ErrorCodes.LinkExpired);
        }

        if (form.OpenedAt is null)
        {
            db.UseTransaction(); // the first view records itself
        }

        if (form.OpenedAt is null && await db.ExecuteAsync(OpenedSql, new { form.ClinicId, form.Id }, ct) == 1)
        {
            await db.AuditAsync(form.ClinicId, "consent.open", "consent_form", form.Id, null, ct);
        }

        db.Http.Response.Headers.CacheControl = "no-store";
        return TypedResults.Ok(new Response(
            new Practice(form.PracticeName, form.LogoEtag is null ? null : SettingsRules.LogoUrl(db.Http, form.ClinicId, form.LogoEtag)),
            form.Type, form.Title, form.Body, form.SubmittedAt is null ? ConsentRules.Pending : ConsentRules.Submitted,
            form.ExpiresAt, JsonSerializer.Deserialize<JsonElement>(form.PublicKey)));
    }

    public sealed record Response(Practice Practice, string Type, string Title, string Body, string Status, DateTimeOffset ExpiresAt,
        JsonElement PublicKey);

    public sealed record Practice(string Name, string? LogoUrl);
}
