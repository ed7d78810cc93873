using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Auth;
using ClinicFlow.Slices.Clinics;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Users;

/// <summary>PATCH /api/users/me: the caller's own name, phone, locale, quick-switch PIN and password.</summary>
public sealed class UpdateMe : ICarterModule
{
    /// <summary>Every field is optional; an empty <c>pin</c> removes the PIN.</summary>
    public sealed record Request(string? FullName, string? Phone, string? Locale, string? Pin, string? CurrentPassword, string? NewPassword);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.FullName).NotEmpty().MaximumLength(200).When(r => r.FullName is not null);
            RuleFor(r => r.Phone).MaximumLength(40);
            RuleFor(r => r.Locale).Must(l => ClinicRules.Locales.Contains(l)).When(r => r.Locale is not null)
                .WithMessage("Use en, es or de.");
            RuleFor(r => r.Pin).Matches("^[0-9]{4,8}$").When(r => !string.IsNullOrEmpty(r.Pin))
                .WithMessage("The PIN has 4 to 8 digits.");
            RuleFor(r => r.CurrentPassword).NotEmpty().WithMessage("Give your current password to change it.")
                .MaximumLength(200)
                .When(r => r.NewPassword is not null);
            RuleFor(r => r.NewPassword).NotNull().WithMessage("Give the new password.").When(r => r.CurrentPassword is not null);
            RuleFor(r => r.NewPassword).StrongPassword().When(r => r.NewPassword is not null);
        }
    }

    private sealed record Current(string FullName, string? Phone, string Locale, string? PinHash, string? PasswordHash);

    // clinic_id is null for a user who has not created or joined a practice yet.
    private const string CurrentSql = """
        select full_name, phone, locale, pin_hash, password_hash
        from users
        where id = @UserId and clinic_id is not distinct from @ClinicId
        for update
        """;

    private const string UpdateSql = """
        update users
           set full_name = @FullName, phone = @Phone, locale = @Locale, pin_hash = @PinHash, password_hash = @PasswordHash,
               token_version = token_version + @TokenVersionBump, updated_at = now()
         where id = @UserId and clinic_id is not distinct from @ClinicId
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/users")
            .MapPatch("/me", Handle)
            .AllowNoClinic()
            .AllowExpiredSubscription()
            .UsesLargePool()
            .WithName(nameof(UpdateMe))
            .WithSummary("Update the signed-in user's profile, PIN or password; answers a fresh token");

    private static async Task<Results<Ok<AuthRules.Session>, ApiProblem>> Handle(
        Request request, Tenant tenant, Validator validator, PasswordHashing passwords, JwtIssuer issuer, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        Guid? clinicId = tenant.HasClinic ? tenant.ClinicId : null;
        var current = await tenant.QuerySingleAsync<Current>(CurrentSql, new { tenant.UserId, ClinicId = clinicId }, ct);
        var changed = new List<string>();
        var fullName = current.FullName;
        if (request.FullName is not null && request.FullName.Trim() != current.FullName)
        {
            fullName = request.FullName.Trim();
            changed.Add("fullName");
        }

        var phone = current.Phone;
        if (request.Phone is not null)
        {
            var (given, problem) = await ClinicRules.NormalizePhoneAsync(tenant, request.Phone, ct);
            if (problem is not null)
            {
                return problem;
            }

            if (given != current.Phone)
            {
                phone = given;
                changed.Add("phone");
            }
        }

        var locale = current.Locale;
        if (request.Locale is not null && request.Locale != current.Locale)
        {
            locale = request.Locale;
            changed.Add("locale");
        }

        var pinHash = current.PinHash;
        if (request.Pin is not null && (request.Pin.Length > 0 || current.PinHash is not null))
        {
            pinHash = request.Pin.Length == 0 ? null : passwords.Hash(request.Pin);
            changed.Add("pin");
        }

        var passwordHash = current.PasswordHash;
        if (request.NewPassword is not null)
        {
            if (!passwords.Verify(current.PasswordHash, request.CurrentPassword!))
            {
                return ApiProblem.Validation("currentPassword", new(
                    "The current password is not correct.", "La contraseña actual no es correcta.", "Das aktuelle Passwort ist nicht korrekt."));
            }

            passwordHash = passwords.Hash(request.NewPassword);
            changed.Add("password");
        }

        if (changed.Count > 0)
        {
            await tenant.ExecuteAsync(UpdateSql, new
            {
                tenant.UserId,
                ClinicId = clinicId,
                FullName = fullName,
                Phone = phone,
                Locale = locale,
                PinHash = pinHash,
                PasswordHash = passwordHash,
                // A new password revokes every token issued before it, the caller's included: the answer carries a fresh one.
                TokenVersionBump = changed.Contains("password") ? 1 : 0,
            }, ct);
            await tenant.AuditAsync("user.update_self", "user", tenant.UserId, new { changed }, ct);
        }

        return TypedResults.Ok(await AuthRules.SessionAsync(tenant, issuer, tenant.UserId, ct));
    }
}
