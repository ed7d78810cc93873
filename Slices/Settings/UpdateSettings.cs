using System.Text.Json;
using Carter;
using ClinicFlow.Infrastructure;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace ClinicFlow.Slices.Settings;

/// <summary>
/// PATCH /api/settings: an admin changes the practice settings. A new public key (new <c>kid</c>)
/// becomes current and the previous one is kept retired, so forms already sent under it stay
/// submittable. Absent or null fields are unchanged; "" clears the optional texts.
/// </summary>
public sealed class UpdateSettings : ICarterModule
{
    public sealed record Request(JsonElement? PublicKey, string? BrandColor, int? ConsentExpiryDays, int? RetentionDays,
        string? GdtSenderId, string? GdtReceiverId);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.BrandColor).Matches("^#[0-9A-Fa-f]{6}$").When(r => !string.IsNullOrEmpty(r.BrandColor))
                .WithMessage("Use #RRGGBB.");
            RuleFor(r => r.ConsentExpiryDays).InclusiveBetween(1, 90);
            RuleFor(r => r.RetentionDays).InclusiveBetween(SettingsRules.MinRetentionDays, SettingsRules.MaxRetentionDays)
                .WithMessage($"Retention is at least ten years ({SettingsRules.MinRetentionDays} days, § 630f BGB) and at most {SettingsRules.MaxRetentionDays} days.");
            RuleFor(r => r.GdtSenderId).Matches("^[A-Za-z0-9]{1,8}$").When(r => !string.IsNullOrEmpty(r.GdtSenderId))
                .WithMessage("A GDT id has 1 to 8 letters or digits.");
            RuleFor(r => r.GdtReceiverId).Matches("^[A-Za-z0-9]{1,8}$").When(r => !string.IsNullOrEmpty(r.GdtReceiverId))
                .WithMessage("A GDT id has 1 to 8 letters or digits.");
        }
    }

    private const string UpsertSql = """
        insert into practice_settings (clinic_id, consent_expiry_days, brand_color, retention_days, gdt_sender_id, gdt_receiver_id)
        values (@ClinicId, @ConsentExpiryDays, @BrandColor, @RetentionDays, @GdtSenderId, @GdtReceiverId)
        on conflict (clinic_id) do update
           set consent_expiry_days = excluded.consent_expiry_days, brand_color = excluded.brand_color,
               retention_days = excluded.retention_days, gdt_sender_id = excluded.gdt_sender_id,
               gdt_receiver_id = excluded.gdt_receiver_id, updated_at = now()
        """;

    private const string ExistingKeySql = "select jwk::text as jwk, retired_at is not null as retired from practice_keys where clinic_id = @ClinicId and kid = @Kid";

    private sealed record ExistingKey(string Jwk, bool Retired);

    private const string RetireSql = "update practice_keys set retired_at = now() where clinic_id = @ClinicId and retired_at is null";

    private const string InsertKeySql = """
        insert into practice_keys (clinic_id, kid, alg, jwk) values (@ClinicId, @Kid, @Alg, @Jwk::jsonb)
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/settings")
            .MapPatch("/", Handle)
            .RequireAdmin()
            .WithName(nameof(UpdateSettings))
            .WithSummary("Update the practice settings; a new public key (new kid) retires the previous one")
            .ProducesErrors(StatusCodes.Status409Conflict);

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(
        Request request, Tenant tenant, Validator validator, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        var details = validation.ToDictionary().ToDictionary(kv => kv.Key, kv => kv.Value);
        SettingsRules.PublicKey? key = null;
        if (request.PublicKey is { ValueKind: not JsonValueKind.Null } jwk)
        {
            (key, var error) = SettingsRules.ValidateJwk(jwk);
            if (error is not null)
            {
                details["publicKey"] = [error];
            }
        }

        if (details.Count > 0)
        {
            return ApiProblem.Validation(details);
        }

        var current = await tenant.QuerySingleAsync<SettingsRow>(SettingsRow.Sql, new { tenant.ClinicId }, ct);
        var next = new
        {
            tenant.ClinicId,
            ConsentExpiryDays = request.ConsentExpiryDays ?? current.ConsentExpiryDays,
            RetentionDays = request.RetentionDays ?? current.RetentionDays,
            BrandColor = request.BrandColor is null ? current.BrandColor : request.BrandColor.TrimToNull()?.ToLowerInvariant(),
            GdtSenderId = request.GdtSenderId is null ? current.GdtSenderId : request.GdtSenderId.TrimToNull(),
            GdtReceiverId = request.GdtReceiverId is null ? current.GdtReceiverId : request.GdtReceiverId.TrimToNull(),
        };
        var changed = new List<string>();
        Note(changed, "consentExpiryDays", next.ConsentExpiryDays != current.ConsentExpiryDays);
        Note(changed, "retentionDays", next.RetentionDays != current.RetentionDays);
        Note(changed, "brandColor", next.BrandColor != current.BrandColor);
        Note(changed, "gdtSenderId", next.GdtSenderId != current.GdtSenderId);
        Note(changed, "gdtReceiverId", next.GdtReceiverId != current.GdtReceiverId);
        if (changed.Count > 0)
        {
            await tenant.ExecuteAsync(UpsertSql, next, ct);
        }

        if (key is not null)
        {
            var existing = await tenant.QuerySingleOrDefaultAsync<ExistingKey>(ExistingKeySql, new { tenant.ClinicId, key.Kid }, ct);
            if (existing is not null && !SameJson(existing.Jwk, key.Jwk))
            {
                return ApiProblem.Conflict(ErrorCodes.AlreadyExists, new(
                    "This kid already names another key: give a new key a new kid.",
                    "Este kid ya identifica otra clave: use un kid nuevo para una clave nueva.",
                    "Diese kid bezeichnet bereits einen anderen Schlüssel: Geben Sie einem neuen Schlüssel eine neue kid."));
            }

            if (existing is { Retired: true })
            {
                return ApiProblem.Conflict(ErrorCodes.AlreadyExists, new(
                    "This key was retired: publish a new key with a new kid.",
                    "Esta clave fue retirada: publique una clave nueva con un kid nuevo.",
                    "Dieser Schlüssel wurde abgelöst: Veröffentlichen Sie einen neuen Schlüssel mit neuer kid."));
            }

            if (existing is null)
            {
                await tenant.ExecuteAsync(RetireSql, new { tenant.ClinicId }, ct);
                try
                {
                    await tenant.ExecuteAsync(InsertKeySql, new { tenant.ClinicId, key.Kid, key.Alg, key.Jwk }, ct);
                }
                catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
                {
                    return ApiProblem.Conflict(ErrorCodes.Conflict);
                }

                changed.Add("publicKey");
            }
        }

        if (changed.Count > 0)
        {
            await tenant.AuditAsync("settings.update", "settings", tenant.ClinicId,
                new { fields = changed, kid = changed.Contains("publicKey") ? key!.Kid : null }, ct);
        }

        var row = await tenant.QuerySingleAsync<SettingsRow>(SettingsRow.Sql, new { tenant.ClinicId }, ct);
        var keys = await tenant.QueryAsync<KeyInfo>(SettingsRow.KeysSql, new { tenant.ClinicId }, ct);
        return TypedResults.Ok(new Response(
            row.PublicKey is null ? null : JsonSerializer.Deserialize<JsonElement>(row.PublicKey),
            row.BrandColor, row.ConsentExpiryDays, row.RetentionDays, row.GdtSenderId, row.GdtReceiverId,
            row.LogoEtag is null ? null : SettingsRules.LogoUrl(tenant.Http, tenant.ClinicId, row.LogoEtag),
            keys.ToList()));
    }

    private static void Note(List<string> changed, string field, bool isChanged)
    {
        if (isChanged)
        {
            changed.Add(field);
        }
    }

    private static bool SameJson(string a, string b) =>
        JsonElement.DeepEquals(JsonSerializer.Deserialize<JsonElement>(a), JsonSerializer.Deserialize<JsonElement>(b));

    public sealed record Response(JsonElement? PublicKey, string? BrandColor, int ConsentExpiryDays, int RetentionDays,
        string? GdtSenderId, string? GdtReceiverId, string? LogoUrl, IReadOnlyList<KeyInfo> Keys);

    public sealed record KeyInfo(string Kid, string Alg, DateTimeOffset CreatedAt, DateTimeOffset? RetiredAt);
}
