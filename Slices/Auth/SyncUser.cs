using Carter;
using ClinicFlow.Infrastructure;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Npgsql;

namespace ClinicFlow.Slices.Auth;

/// <summary>POST /api/auth/sync: an OAuth identity provider pushes a user (upsert by external id, then email) and gets a token.</summary>
public sealed class SyncUser : ICarterModule
{
    public sealed record Request(string? ExternalId, string? Email, string? FullName, string? Provider);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.ExternalId).NotEmpty().MaximumLength(255);
            RuleFor(r => r.Email).NotEmpty().EmailAddress().MaximumLength(254);
            RuleFor(r => r.FullName).MaximumLength(200);
            RuleFor(r => r.Provider).NotEmpty().MaximumLength(50);
        }
    }

    private sealed record Account(Guid Id, Guid? ClinicId, bool Active, string Email, string FullName, string? Provider, string? ExternalId);

    private const string ByExternalIdSql = """
        select id, clinic_id, active, email, full_name, provider, external_id
        from users
        where provider = @Provider and external_id = @ExternalId
        for update
        """;

    private const string ByEmailSql = """
        select id, clinic_id, active, email, full_name, provider, external_id
        from users
        where email = @Email::citext
        for update
        """;

    private const string UpdateSql = """
        update users
           set email = @Email, full_name = @FullName, provider = @Provider, external_id = @ExternalId, updated_at = now()
         where id = @Id
        """;

    private const string InsertSql = """
        insert into users (id, clinic_id, email, password_hash, full_name, role, provider, external_id)
        values (@Id, null, @Email, null, @FullName, null, @Provider, @ExternalId)
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapSystemGroup("/auth", RateLimits.Register)
            .MapPost("/sync", Handle)
            .UsesLargePool()
            .WithName(nameof(SyncUser))
            .WithSummary("Upsert a user pushed by an OAuth identity provider (x-auth-secret) and sign them in")
            .ProducesErrors(StatusCodes.Status401Unauthorized, StatusCodes.Status403Forbidden, StatusCodes.Status409Conflict);

    private static async Task<Results<Ok<AuthRules.Session>, Created<AuthRules.Session>, ApiProblem>> Handle(
        Request request, [FromHeader(Name = "x-auth-secret")] string? secret, SystemScope db, Validator validator,
        IOptions<AuthOptions> auth, JwtIssuer issuer, CancellationToken ct)
    {
        if (!PasswordHashing.SecretEquals(auth.Value.SyncSecret, secret))
        {
            return ApiProblem.Unauthorized();
        }

        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        var email = request.Email!.Trim();
        var provider = request.Provider!.Trim().ToLowerInvariant();
        var externalId = request.ExternalId!.Trim();
        var fullName = request.FullName.TrimToNull();

        var account = await db.QuerySingleOrDefaultAsync<Account>(ByExternalIdSql, new { Provider = provider, ExternalId = externalId }, ct);
        var linked = false;
        if (account is null)
        {
            account = await db.QuerySingleOrDefaultAsync<Account>(ByEmailSql, new { Email = email }, ct);
            if (account is { ExternalId: not null })
            {
                // The email already belongs to another provider identity: relinking it silently would hand the account over.
                return ApiProblem.Conflict(ErrorCodes.Conflict, new(
                    "This email is already linked to another sign-in identity.",
                    "Este correo ya está vinculado a otra identidad de inicio de sesión.",
                    "Diese E-Mail ist bereits mit einer anderen Anmeldeidentität verknüpft."));
            }

            linked = account is not null;
        }

        if (account is { Active: false })
        {
            return ApiProblem.Forbidden(ErrorCodes.UserInactive);
        }

        var created = account is null;
        var userId = account?.Id ?? Guid.CreateVersion7();
        // Linking by email keeps the address as the account holds it; a known identity follows the provider's.
        var storedEmail = linked ? account!.Email : email;
        try
        {
            if (account is null)
            {
                await db.ExecuteAsync(InsertSql, new
                {
                    Id = userId,
                    Email = email,
                    FullName = fullName ?? email.Split('@')[0],
                    Provider = provider,
                    ExternalId = externalId,
                }, ct);
            }
            else
            {
                await db.ExecuteAsync(UpdateSql, new
                {
                    account.Id,
                    Email = storedEmail,
                    FullName = fullName ?? account.FullName,
                    Provider = provider,
                    ExternalId = externalId,
                }, ct);
            }
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            return ApiProblem.Conflict(ErrorCodes.AlreadyExists, new(
                "An account with this email already exists.", "Ya existe una cuenta con este correo.", "Es gibt bereits ein Konto mit dieser E-Mail."));
        }

        db.ActAs(userId);
        await db.AuditAsync(account?.ClinicId ?? Audit.PlatformChain, "user.sync", "user", userId,
            new { email = storedEmail, provider, created, linked }, ct);
        var session = await AuthRules.SessionAsync(db, issuer, userId, ct);
        return created ? TypedResults.Created("/api/auth/me", session) : TypedResults.Ok(session);
    }
}
