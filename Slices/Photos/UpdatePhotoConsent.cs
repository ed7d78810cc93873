using Carter;
using ClinicFlow.Infrastructure;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Photos;

/// <summary>
/// PATCH /api/photos/{id}/consent: records the patient's consent to the photo (pending, granted,
/// revoked), optionally naming the consent form that documents it.
/// </summary>
public sealed class UpdatePhotoConsent : ICarterModule
{
    public sealed record Request(string? ConsentStatus, Guid? ConsentFormId);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator() =>
            RuleFor(r => r.ConsentStatus).NotEmpty().Must(s => s is null || PhotoRules.ConsentStatuses.Contains(s))
                .WithMessage("Use pending, granted or revoked.");
    }

    private const string CurrentSql = """
        select ph.consent_status, ph.consent_form_id, ph.patient_id
        from photos ph
        join patients p on p.clinic_id = ph.clinic_id and p.id = ph.patient_id and p.erased_at is null
        where ph.clinic_id = @ClinicId and ph.id = @Id
        for update of ph
        """;

    // The form's patient within the caller's clinic (row-level security hides every other clinic's).
    private const string FormPatientSql = "select patient_id from consent_forms where clinic_id = @ClinicId and id = @Id";

    private const string Sql = $"""
        update photos ph
           set consent_status = @ConsentStatus, consent_form_id = coalesce(@ConsentFormId, consent_form_id),
               consent_changed_at = now()
         where ph.clinic_id = @ClinicId and ph.id = @Id
        returning {PhotoRules.PhotoColumns}
        """;

    private sealed record Current(string ConsentStatus, Guid? ConsentFormId, Guid PatientId);

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/photos")
            .MapPatch("/{id:guid}/consent", Handle)
            .RequireDoctorOrAdmin()
            .WithName(nameof(UpdatePhotoConsent))
            .WithSummary("Set a photo's consent status (pending, granted, revoked) and its consent form");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(
        Guid id, Request request, Tenant tenant, Validator validator, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        var current = await tenant.QuerySingleOrDefaultAsync<Current>(CurrentSql, new { tenant.ClinicId, Id = id }, ct);
        if (current is null)
        {
            return ApiProblem.NotFound();
        }

        if (request.ConsentFormId is { } formId)
        {
            var formPatient = await tenant.QuerySingleOrDefaultAsync<Guid?>(FormPatientSql, new { tenant.ClinicId, Id = formId }, ct);
            if (formPatient is null)
            {
                return ApiProblem.NotFound();
            }

            if (formPatient != current.PatientId)
            {
                return ApiProblem.Validation("consentFormId", new(
                    "Name a consent form of this photo's patient.",
                    "Indique un formulario de consentimiento del paciente de esta foto.",
                    "Nennen Sie eine Einwilligung des Patienten dieses Fotos."));
            }
        }

        var photo = await tenant.QuerySingleAsync<PhotoRules.PhotoRow>(Sql,
            new { tenant.ClinicId, Id = id, request.ConsentStatus, request.ConsentFormId }, ct);
        if (current.ConsentStatus != photo.ConsentStatus || current.ConsentFormId != photo.ConsentFormId)
        {
            await tenant.AuditAsync("photo.consent", "photo", id,
                new { from = current.ConsentStatus, to = photo.ConsentStatus, photo.ConsentFormId }, ct);
        }

        return TypedResults.Ok(Response.From(photo, PhotoRules.DownloadUrl(tenant.Http, id)));
    }

    public sealed record Response(Guid Id, Guid PatientId, string MimeType, DateTimeOffset? TakenAt, string Category, string? BodyRegion,
        string ConsentStatus, Guid? ConsentFormId, long SizeBytes, string Sha256, string KeyEnvelope, string DownloadUrl, DateTimeOffset CreatedAt)
    {
        internal static Response From(PhotoRules.PhotoRow p, string downloadUrl) =>
            new(p.Id, p.PatientId, p.MimeType, p.TakenAt, p.Category, p.BodyRegion, p.ConsentStatus, p.ConsentFormId, p.SizeBytes, p.Sha256,
                p.KeyEnvelope, downloadUrl, p.CreatedAt);
    }
}
