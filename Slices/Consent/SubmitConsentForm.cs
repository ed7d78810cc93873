using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Settings;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Consent;

/// <summary>
/// POST /api/consent/{token}/submit: public; the patient's browser sends the answers encrypted to
/// the practice's public key as a JWE compact serialization. The server checks its form only and
/// stores it byte for byte with the signing time, the submitter's IP and user agent, and keeps it
/// for the retention period (retain_until). A form is submitted once.
/// </summary>
public sealed class SubmitConsentForm : ICarterModule
{
    public sealed record Request(string? EncryptedPayload, DateTimeOffset? SignedAt);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.EncryptedPayload).NotEmpty();
            RuleFor(r => r.SignedAt).NotNull();
        }
    }

    private sealed record Form(Guid Id, Guid ClinicId, DateTimeOffset CreatedAt, bool Expired, DateTimeOffset? SubmittedAt,
        DateTimeOffset? RevokedAt, int RetentionDays);

    private const string FindSql = """
        select f.id, f.clinic_id, f.created_at, f.expires_at <= now() as expired, f.submitted_at, f.revoked_at,
               coalesce(s.retention_days, 3653) as retention_days
        from consent_forms f
        join clinics c on c.id = f.clinic_id
        left join practice_settings s on s.clinic_id = f.clinic_id
        where f.token_hash = @TokenHash and f.locked_at is null and c.active
        for update of f
        """;

    private const string KeySql = "select alg from practice_keys where clinic_id = @ClinicId and kid = @Kid";

    private const string SubmitSql = """
        update consent_forms
           set submitted_at = now(), signed_at = @SignedAt, encrypted_payload = @EncryptedPayload,
               submitter_ip = @Ip, submitter_user_agent = @UserAgent, opened_at = coalesce(opened_at, now()),
               retain_until = now() + make_interval(days => @RetentionDays)
         where clinic_id = @ClinicId and id = @Id and submitted_at is null
        returning submitted_at
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapSystemGroup("/consent", RateLimits.PublicLinks)
            .MapPost("/{token}/submit", Handle)
            // a 512 KB envelope plus its JSON; larger bodies are refused before they are read
            .WithMetadata(new Microsoft.AspNetCore.Mvc.RequestSizeLimitAttribute(ConsentRules.MaxEnvelopeChars + (16 * 1024)))
            .WithName(nameof(SubmitConsentForm))
            .WithSummary("Submit the patient's answers as a JWE encrypted to the practice's public key")
            .ProducesErrors(StatusCodes.Status404NotFound, StatusCodes.Status409Conflict, StatusCodes.Status410Gone,
                StatusCodes.Status413PayloadTooLarge);

    private static async Task<Results<Created<Response>, ApiProblem>> Handle(
        string token, Request request, SystemScope db, Validator validator, TimeProvider clock, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        var jwe = request.EncryptedPayload!;
        if (jwe.Length > ConsentRules.MaxEnvelopeChars)
        {
            return ApiProblem.Of(StatusCodes.Status413PayloadTooLarge, ErrorCodes.PayloadTooLarge, new(
                "The encrypted answers may be at most 512 KB.", "Las respuestas cifradas pueden ocupar como máximo 512 KB.",
                "Die verschlüsselten Antworten dürfen höchstens 512 KB groß sein."));
        }

        var (envelope, error) = ConsentRules.CheckEnvelope(jwe);
        if (envelope is null)
        {
            return ApiProblem.Validation(new Dictionary<string, string[]> { ["encryptedPayload"] = [error!] });
        }

        var form = token.Length > 200 ? null : await db.QuerySingleOrDefaultAsync<Form>(FindSql, new { TokenHash = SecretBox.Hash(token) }, ct);
        if (form is null)
        {
            return ApiProblem.NotFound();
        }

        if (form.RevokedAt is not null)
        {
            return ApiProblem.Of(StatusCodes.Status410Gone, ErrorCodes.LinkRevoked);
        }

        if (form.SubmittedAt is not null)
        {
            return ApiProblem.Conflict(ErrorCodes.Conflict, new(
                "This form was already submitted.", "Este formulario ya fue enviado.", "Dieses Formular wurde bereits übermittelt."));
        }

        if (form.Expired)
        {
            return ApiProblem.Of(StatusCodes.Status410Gone, ErrorCodes.LinkExpired);
        }

        var keyAlg = await db.QuerySingleOrDefaultAsync<string>(KeySql, new { form.ClinicId, envelope.Kid }, ct);
        if (keyAlg is null || keyAlg != envelope.Alg)
        {
            return ApiProblem.Validation(new Dictionary<string, string[]>
            {
                ["encryptedPayload"] = [keyAlg is null
                    ? "The kid names no key of this practice."
                    : $"The practice key {envelope.Kid} serves {keyAlg}, not {envelope.Alg}."],
            });
        }

        var now = clock.GetUtcNow();
        var signedAt = request.SignedAt!.Value.ToUniversalTime();
        if (signedAt > now.AddMinutes(5) || signedAt < form.CreatedAt.AddMinutes(-5))
        {
            return ApiProblem.Validation(new Dictionary<string, string[]>
            {
                ["signedAt"] = ["signedAt must lie between the form's creation and now."],
            });
        }

        var userAgent = db.Http.Request.Headers.UserAgent.ToString();
        var submittedAt = await db.QuerySingleAsync<DateTimeOffset>(SubmitSql, new
        {
            form.ClinicId,
            form.Id,
            SignedAt = signedAt,
            EncryptedPayload = jwe,
            Ip = db.Http.ClientIp(),
            UserAgent = userAgent.Length > 500 ? userAgent[..500] : userAgent,
            form.RetentionDays,
        }, ct);

        // The envelope's size and key only: the audit log never holds encrypted payloads.
        await db.AuditAsync(form.ClinicId, "consent.submit", "consent_form", form.Id,
            new { envelope.Kid, envelope.Alg, bytes = jwe.Length }, ct);
        return TypedResults.Created((string?)null, new Response(form.Id, ConsentRules.Submitted, submittedAt, signedAt));
    }

    public sealed record Response(Guid Id, string Status, DateTimeOffset SubmittedAt, DateTimeOffset SignedAt);
}
