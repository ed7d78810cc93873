using Carter;
using ClinicFlow.Infrastructure;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace ClinicFlow.Slices.Clinics;

/// <summary>
/// PUT /api/clinics/current/whatsapp: sets the clinic's WhatsApp Cloud API number, business account
/// and access token (sealed with AES-256-GCM, bound to the clinic, never returned or logged) and
/// switches it on or off. A phone number id belongs to one clinic only.
/// </summary>
public sealed class UpdateWhatsAppConfig : ICarterModule
{
    /// <summary>Without <c>accessToken</c> the stored one is kept (required the first time).</summary>
    public sealed record Request(string? PhoneNumberId, string? BusinessAccountId, string? AccessToken, bool? Enabled);

    public sealed class Validator : AbstractValidator<Request>
    {
        private static readonly Text DigitsOnly = new(
            "Meta's ids are digits only.", "Los identificadores de Meta son solo dígitos.", "Die IDs von Meta bestehen nur aus Ziffern.");

        public Validator()
        {
            RuleFor(r => r.PhoneNumberId).NotEmpty().MaximumLength(32).Matches("^[0-9]+$").WithMessage(_ => DigitsOnly.Current);
            RuleFor(r => r.BusinessAccountId).NotEmpty().MaximumLength(32).Matches("^[0-9]+$").WithMessage(_ => DigitsOnly.Current);
            RuleFor(r => r.AccessToken).NotEmpty().MaximumLength(2048).When(r => r.AccessToken is not null);
            RuleFor(r => r.Enabled).NotNull();
        }
    }

    private const string CurrentSql = """
        select phone_number_id, business_account_id, enabled
        from whatsapp_configs
        where clinic_id = @ClinicId
        for update
        """;

    private const string UpsertSql = """
        insert into whatsapp_configs (clinic_id, phone_number_id, business_account_id, access_token_sealed, enabled)
        values (@ClinicId, @PhoneNumberId, @BusinessAccountId,
                coalesce(@Sealed, (select access_token_sealed from whatsapp_configs where clinic_id = @ClinicId)), @Enabled)
        on conflict (clinic_id) do update
           set phone_number_id = excluded.phone_number_id,
               business_account_id = excluded.business_account_id,
               access_token_sealed = excluded.access_token_sealed,
               enabled = excluded.enabled,
               updated_at = now()
        returning phone_number_id, business_account_id, enabled, updated_at
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/clinics")
            .MapPut("/current/whatsapp", Handle)
            .RequireAdmin()
            .WithName(nameof(UpdateWhatsAppConfig))
            .WithSummary("Set the clinic's WhatsApp Cloud API number, business account, access token (write-only) and switch")
            .ProducesErrors(StatusCodes.Status409Conflict);

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(
        Request request, Tenant tenant, Validator validator, SecretBox secrets, HttpContext http, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        var current = await tenant.QuerySingleOrDefaultAsync<Current>(CurrentSql, new { tenant.ClinicId }, ct);
        if (current is null && request.AccessToken is null)
        {
            return ApiProblem.Validation("accessToken", new(
                "accessToken is required the first time.", "accessToken es obligatorio la primera vez.",
                "accessToken ist beim ersten Mal erforderlich."));
        }

        var sealedToken = request.AccessToken is { } token ? secrets.Seal(token.Trim(), WhatsAppApi.TokenContext(tenant.ClinicId)) : null;
        Row row;
        try
        {
            row = await tenant.QuerySingleAsync<Row>(UpsertSql, new
            {
                tenant.ClinicId,
                PhoneNumberId = request.PhoneNumberId!.Trim(),
                BusinessAccountId = request.BusinessAccountId!.Trim(),
                Sealed = sealedToken,
                Enabled = request.Enabled!.Value,
            }, ct);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            return ApiProblem.Conflict(ErrorCodes.AlreadyExists, new(
                "This WhatsApp phone number id is already connected to another clinic.",
                "Este identificador de número de WhatsApp ya está conectado a otra clínica.",
                "Diese WhatsApp-Telefonnummer-ID ist bereits mit einer anderen Praxis verbunden."));
        }

        // Field names and the switch only: the token never reaches the audit log.
        var fields = new List<string>();
        if (current?.PhoneNumberId != row.PhoneNumberId)
        {
            fields.Add("phoneNumberId");
        }

        if (current?.BusinessAccountId != row.BusinessAccountId)
        {
            fields.Add("businessAccountId");
        }

        if (current?.Enabled != row.Enabled)
        {
            fields.Add("enabled");
        }

        if (sealedToken is not null)
        {
            fields.Add("accessToken");
        }

        if (fields.Count > 0)
        {
            await tenant.AuditAsync("whatsapp.update", "clinic", tenant.ClinicId, new { fields, enabled = row.Enabled }, ct);
        }

        return TypedResults.Ok(new Response(true, row.PhoneNumberId, row.BusinessAccountId, row.Enabled, true, row.UpdatedAt,
            http.PublicUrl("/api/webhooks/whatsapp")));
    }

    private sealed record Current(string PhoneNumberId, string BusinessAccountId, bool Enabled);

    private sealed record Row(string PhoneNumberId, string BusinessAccountId, bool Enabled, DateTimeOffset UpdatedAt);

    public sealed record Response(bool Configured, string? PhoneNumberId, string? BusinessAccountId, bool Enabled, bool HasAccessToken,
        DateTimeOffset? UpdatedAt, string WebhookUrl);
}
