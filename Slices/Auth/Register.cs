using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Clinics;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Npgsql;

namespace ClinicFlow.Slices.Auth;

/// <summary>POST /api/auth/register: signs a user up, with a new clinic (ClinicFlow) or without one (consent product).</summary>
public sealed class Register : ICarterModule
{
    public sealed record Request(string? Email, string? Password, string? FullName, string? ClinicName, string? Timezone,
        string? Country, string? Locale, string? InviteCode);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.Email).NotEmpty().EmailAddress().MaximumLength(254);
            RuleFor(r => r.Password).StrongPassword();
            RuleFor(r => r.FullName).MaximumLength(200);
            RuleFor(r => r.ClinicName).MaximumLength(200);
            RuleFor(r => r.Timezone).Must(ClinicRules.IsTimezone).When(r => r.Timezone is not null)
                .WithMessage("Unknown IANA time zone.");
            RuleFor(r => r.Country).Must(ClinicRules.IsCountry).When(r => r.Country is not null)
                .WithMessage("Use an ISO 3166-1 alpha-2 code such as AR or DE.");
            RuleFor(r => r.Locale).Must(l => ClinicRules.Locales.Contains(l)).When(r => r.Locale is not null)
                .WithMessage("Use en, es or de.");
            RuleFor(r => r.InviteCode).MaximumLength(100);
        }
    }

    private const string RedeemInviteSql = """
        update invite_codes set uses = uses + 1
        where code = @Code and revoked_at is null and (expires_at is null or expires_at > now()) and uses < max_uses
        returning plan
        """;

    private const string InsertClinicSql = """
        insert into clinics (id, name, timezone, country, currency, locale, plan, subscription_status, subscription_expires_at)
        values (@Id, @Name, @Timezone, @Country, @Currency, @Locale, @Plan, 'trialing', now() + make_interval(days => @TrialDays))
        """;

    private const string InsertUserSql = """
        insert into users (id, clinic_id, email, password_hash, full_name, role, locale)
        values (@Id, @ClinicId, @Email, @PasswordHash, @FullName, @Role, @Locale)
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapSystemGroup("/auth", RateLimits.Register)
            .MapPost("/register", Handle)
            .UsesLargePool()
            .WithName(nameof(Register))
            .WithSummary("Sign up; with clinicName also create the clinic and become its admin")
            .ProducesErrors(StatusCodes.Status409Conflict);

    private static async Task<Results<Created<AuthRules.Session>, ApiProblem>> Handle(
        Request request, SystemScope db, Validator validator, PasswordHashing passwords, JwtIssuer issuer,
        IOptions<AuthOptions> auth, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        string? invitePlan = null;
        if (auth.Value.RequireInviteCode || !string.IsNullOrWhiteSpace(request.InviteCode))
        {
            invitePlan = string.IsNullOrWhiteSpace(request.InviteCode)
                ? null
                : await db.QuerySingleOrDefaultAsync<string>(RedeemInviteSql, new { Code = request.InviteCode.Trim() }, ct);
            if (invitePlan is null)
            {
                return ApiProblem.Validation("inviteCode", new(
                    "A valid invite code is required.", "Se requiere un código de invitación válido.", "Ein gültiger Einladungscode ist erforderlich."));
            }
        }

        var email = request.Email!.Trim();
        var userId = Guid.CreateVersion7();
        Guid? clinicId = null;
        var setup = ClinicRules.NewClinic(request.Country, request.Timezone, request.Locale);
        var locale = setup.Locale;
        if (!string.IsNullOrWhiteSpace(request.ClinicName))
        {
            clinicId = Guid.CreateVersion7();
            await db.ExecuteAsync(InsertClinicSql, new
            {
                Id = clinicId,
                Name = request.ClinicName.Trim(),
                setup.Timezone,
                setup.Country,
                setup.Currency,
                setup.Locale,
                Plan = invitePlan ?? "pro",
                ClinicRules.TrialDays,
            }, ct);
        }

        try
        {
            await db.ExecuteAsync(InsertUserSql, new
            {
                Id = userId,
                ClinicId = clinicId,
                Email = email,
                PasswordHash = passwords.Hash(request.Password!),
                FullName = string.IsNullOrWhiteSpace(request.FullName) ? email.Split('@')[0] : request.FullName.Trim(),
                Role = clinicId is null ? null : "admin",
                Locale = locale,
            }, ct);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            return ApiProblem.Conflict(ErrorCodes.AlreadyExists, new(
                "An account with this email already exists.", "Ya existe una cuenta con este correo.", "Es gibt bereits ein Konto mit dieser E-Mail."));
        }

        db.ActAs(userId);
        var chain = clinicId ?? Audit.PlatformChain;
        if (clinicId is not null)
        {
            await db.AuditAsync(chain, "clinic.create", "clinic", clinicId, new { name = request.ClinicName!.Trim(), plan = invitePlan ?? "pro" }, ct);
        }

        await db.AuditAsync(chain, "user.register", "user", userId, new { email, role = clinicId is null ? null : "admin" }, ct);
        var session = await AuthRules.SessionAsync(db, issuer, userId, ct);
        return TypedResults.Created("/api/auth/me", session);
    }
}
