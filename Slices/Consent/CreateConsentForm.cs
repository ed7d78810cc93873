using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Settings;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Consent;

/// <summary>
/// POST /api/consent: an admin or doctor creates a consent form for a patient and gets its public
/// link. The link's token (192 random bits) is stored as its SHA-256 and a sealed copy; the form
/// names the practice's current public key, which the patient's browser encrypts the answers to.
/// </summary>
public sealed class CreateConsentForm : ICarterModule
{
    public sealed record Request(Guid? PatientId, string? Type, string? Title, string? Body, string? TemplateId, int? ExpiresInDays);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.PatientId).NotEmpty();
            RuleFor(r => r.Type).NotEmpty().When(r => r.TemplateId is null);
            RuleFor(r => r.Type).Matches("^[a-z][a-z0-9_]{1,49}$").When(r => !string.IsNullOrEmpty(r.Type))
                .WithMessage("Use a lower_snake type such as treatment, photo or data_processing.");
            RuleFor(r => r.Title).NotEmpty().When(r => r.TemplateId is null);
            RuleFor(r => r.Title).MaximumLength(200);
            RuleFor(r => r.Body).NotEmpty().When(r => r.TemplateId is null).WithMessage("Give a body or a templateId.");
            RuleFor(r => r.Body).MaximumLength(50_000);
            RuleFor(r => r.Body).Empty().When(r => r.TemplateId is not null).WithMessage("Give a body or a templateId, not both.");
            RuleFor(r => r.TemplateId).Must(t => ConsentRules.Templates.ContainsKey(t!)).When(r => r.TemplateId is not null)
                .WithMessage($"Unknown template; use one of {string.Join(", ", ConsentRules.Templates.Keys)}.");
            RuleFor(r => r.ExpiresInDays).InclusiveBetween(1, 90);
        }
    }

    private const string PatientSql = """
        select 1 from patients where clinic_id = @ClinicId and id = @PatientId and erased_at is null for share
        """;

    private const string KeySql = "select kid from practice_keys where clinic_id = @ClinicId and retired_at is null";

    private const string InsertSql = """
        insert into consent_forms (id, clinic_id, patient_id, type, title, body, template_id, kid, token_hash, token_sealed,
                                   created_by, expires_at)
        values (@Id, @ClinicId, @PatientId, @Type, @Title, @Body, @TemplateId, @Kid, @TokenHash, @TokenSealed,
                @CreatedBy, now() + make_interval(days => @ExpiresInDays))
        returning created_at, expires_at
        """;

    private sealed record Inserted(DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt);

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/consent")
            .MapPost("/", Handle)
            .RequireDoctorOrAdmin()
            .WithName(nameof(CreateConsentForm))
            .WithSummary("Create a consent form for a patient; answers its public link once")
            .ProducesErrors(StatusCodes.Status409Conflict);

    private static async Task<Results<Created<Response>, ApiProblem>> Handle(
        Request request, Tenant tenant, Validator validator, SecretBox secrets, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        if (await tenant.QuerySingleOrDefaultAsync<int?>(PatientSql, new { tenant.ClinicId, request.PatientId }, ct) is null)
        {
            return ApiProblem.NotFound();
        }

        var kid = await tenant.QuerySingleOrDefaultAsync<string>(KeySql, new { tenant.ClinicId }, ct);
        if (kid is null)
        {
            return ApiProblem.Conflict(ErrorCodes.Conflict, new(
                "Publish the practice's public key in the settings first: the answers are encrypted to it.",
                "Publique primero la clave pública de la clínica en la configuración: las respuestas se cifran con ella.",
                "Hinterlegen Sie zuerst den öffentlichen Schlüssel der Praxis in den Einstellungen: Die Antworten werden damit verschlüsselt."));
        }

        var template = request.TemplateId is { } templateId ? ConsentRules.Templates[templateId] : null;
        var settings = await SettingsRules.ReadAsync(tenant, tenant.ClinicId, ct);
        var id = Guid.CreateVersion7();
        var token = SecretBox.NewToken();
        var form = new
        {
            Id = id,
            tenant.ClinicId,
            PatientId = request.PatientId!.Value,
            Type = request.Type.TrimToNull() ?? template!.Type,
            Title = request.Title.TrimToNull() ?? template!.Title,
            Body = template?.Body ?? request.Body!,
            request.TemplateId,
            Kid = kid,
            TokenHash = SecretBox.Hash(token),
            TokenSealed = secrets.Seal(token, ConsentRules.SealContext(tenant.ClinicId, id)),
            CreatedBy = tenant.UserId,
            ExpiresInDays = request.ExpiresInDays ?? settings.ConsentExpiryDays,
        };
        var inserted = await tenant.QuerySingleAsync<Inserted>(InsertSql, form, ct);

        // Ids and the type only: the title and body may describe the patient's treatment.
        await tenant.AuditAsync("consent.create", "consent_form", id,
            new { patientId = form.PatientId, type = form.Type, form.TemplateId, kid, expiresAt = inserted.ExpiresAt }, ct);
        return TypedResults.Created($"/api/consent/practice?patientId={form.PatientId}", new Response(
            id, token, ConsentRules.Url(tenant.Http, token), form.PatientId, form.Type, form.Title, form.Body, ConsentRules.Pending,
            kid, inserted.ExpiresAt, inserted.CreatedAt));
    }

    public sealed record Response(Guid Id, string Token, string Url, Guid PatientId, string Type, string Title, string Body,
        string Status, string Kid, DateTimeOffset ExpiresAt, DateTimeOffset CreatedAt);
}
