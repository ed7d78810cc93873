using Carter;
using ClinicFlow.Infrastructure;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Consent;

/// <summary>
/// GET /api/consent/practice: an admin or doctor lists the practice's consent forms, newest first,
/// with their links (opened from the sealed copy) and the submitted envelopes for the app to
/// decrypt with the practice's private key. Records locked by an erasure are not listed.
/// </summary>
public sealed class ListConsentForms : ICarterModule
{
    public sealed record Request(string? Status, string? Type, Guid? PatientId, DateTimeOffset? From, DateTimeOffset? To,
        int? Limit, string? Cursor);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.Status).Must(s => ConsentRules.Statuses.Contains(s)).When(r => r.Status is not null)
                .WithMessage("Use pending, submitted, revoked or expired.");
            RuleFor(r => r.Type).MaximumLength(50);
            RuleFor(r => r.To).GreaterThan(r => r.From).When(r => r.From is not null && r.To is not null);
        }
    }

    private sealed record Row(Guid Id, Guid ClinicId, string? TokenSealed, Guid PatientId, string Type, string Title, string Body,
        string Status, string Kid, DateTimeOffset ExpiresAt, DateTimeOffset CreatedAt, DateTimeOffset? OpenedAt,
        DateTimeOffset? SubmittedAt, DateTimeOffset? SignedAt, DateTimeOffset? RevokedAt, string? EncryptedPayload);

    private const string Sql = $"""
        select * from (
            select f.id, f.clinic_id, f.token_sealed, f.patient_id, f.type, f.title, f.body, {ConsentRules.StatusSql} as status,
                   f.kid, f.expires_at, f.created_at, f.opened_at, f.submitted_at, f.signed_at, f.revoked_at, f.encrypted_payload
            from consent_forms f
            where f.clinic_id = @ClinicId and f.locked_at is null
              and (@After::uuid is null or f.id < @After)
              and (@PatientId::uuid is null or f.patient_id = @PatientId)
              and (@Type::text is null or f.type = @Type)
              and (@From::timestamptz is null or f.created_at >= @From)
              and (@To::timestamptz is null or f.created_at < @To)
        ) f
        where (@Status::text is null or f.status = @Status)
        order by f.id desc
        limit @Take
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/consent")
            .MapGet("/practice", Handle)
            .RequireDoctorOrAdmin()
            .WithName(nameof(ListConsentForms))
            .WithSummary("The practice's consent forms with links and submitted envelopes (filters status, type, patientId, from, to)");

    private static async Task<Results<Ok<Page<Response>>, ApiProblem>> Handle(
        [AsParameters] Request request, Tenant tenant, Validator validator, SecretBox secrets, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        if (!Paging.TryReadGuid(request.Limit, request.Cursor, out var take, out var after, out var problem))
        {
            return problem!;
        }

        tenant.PlanPerCall();
        var rows = await tenant.QueryAsync<Row>(Sql, new
        {
            tenant.ClinicId,
            After = after,
            request.PatientId,
            Type = request.Type.TrimToNull(),
            From = request.From?.ToUniversalTime(),
            To = request.To?.ToUniversalTime(),
            request.Status,
            Take = take + 1,
        }, ct);
        var items = rows.Select(r =>
        {
            var token = r.TokenSealed is null ? null : secrets.Open(r.TokenSealed, ConsentRules.SealContext(r.ClinicId, r.Id));
            return new Response(r.Id, token, token is null ? null : ConsentRules.Url(tenant.Http, token), r.PatientId, r.Type,
                r.Title, r.Body, r.Status, r.Kid, r.ExpiresAt, r.CreatedAt, r.OpenedAt, r.SubmittedAt, r.SignedAt, r.RevokedAt,
                r.EncryptedPayload);
        });
        return TypedResults.Ok(Paging.ToPage(items, take, r => r.Id));
    }

    public sealed record Response(Guid Id, string? Token, string? Url, Guid PatientId, string Type, string Title, string Body,
        string Status, string Kid, DateTimeOffset ExpiresAt, DateTimeOffset CreatedAt, DateTimeOffset? OpenedAt,
        DateTimeOffset? SubmittedAt, DateTimeOffset? SignedAt, DateTimeOffset? RevokedAt, string? EncryptedPayload);
}
