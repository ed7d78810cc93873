using Carter;
using ClinicFlow.Infrastructure;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Auth;

/// <summary>POST /api/auth/login: email and password for a token; failed attempts are rate limited per IP.</summary>
public sealed class Login : ICarterModule
{
    public sealed record Request(string? Email, string? Password);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.Email).NotEmpty().MaximumLength(254);
            RuleFor(r => r.Password).NotEmpty().MaximumLength(200);
        }
    }

    private sealed record Account(Guid Id, string? PasswordHash, bool Active, Guid? ClinicId);

    private const string Sql = "select id, password_hash, active, clinic_id from users where email = @Email::citext";

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapSystemGroup("/auth", null)
            .MapPost("/login", Handle)
            .LimitFailedAttempts()
            .UsesLargePool()
            .WithName(nameof(Login))
            .WithSummary("Sign in with email and password")
            .ProducesErrors(StatusCodes.Status401Unauthorized, StatusCodes.Status403Forbidden);

    private static async Task<Results<Ok<AuthRules.Session>, ApiProblem>> Handle(
        Request request, SystemScope db, Validator validator, PasswordHashing passwords, JwtIssuer issuer,
        FailedAttemptLimiter limiter, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        var account = await db.QuerySingleOrDefaultAsync<Account>(Sql, new { Email = request.Email!.Trim() }, ct);
        if (!passwords.Verify(account?.PasswordHash, request.Password!) || account is null)
        {
            limiter.RecordFailure(db.Http);
            return ApiProblem.Unauthorized(ErrorCodes.InvalidCredentials);
        }

        if (!account.Active)
        {
            return ApiProblem.Forbidden(ErrorCodes.UserInactive);
        }

        db.ActAs(account.Id);
        await db.AuditAsync(account.ClinicId ?? Audit.PlatformChain, "user.login", "user", account.Id, null, ct);
        return TypedResults.Ok(await AuthRules.SessionAsync(db, issuer, account.Id, ct));
    }
}
