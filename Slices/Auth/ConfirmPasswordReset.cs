using Carter;
using ClinicFlow.Infrastructure;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Auth;

/// <summary>POST /api/auth/password-reset/confirm: a reset token and a new password; revokes older tokens.</summary>
public sealed class ConfirmPasswordReset : ICarterModule
{
    public sealed record Request(string? Token, string? NewPassword);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.Token).NotEmpty().MaximumLength(200);
            RuleFor(r => r.NewPassword).StrongPassword();
        }
    }

    private sealed record Claimed(Guid UserId, Guid? ClinicId);

    // Claiming the token is one update: of two concurrent confirms, the second finds it used.
    private const string ClaimSql = """
        update password_reset_tokens t
           set used_at = now()
          from users u
         where t.token_hash = @TokenHash and t.used_at is null and t.expires_at > now()
           and u.id = t.user_id and u.active
        returning t.user_id, u.clinic_id
        """;

    private const string SetPasswordSql = """
        update users
           set password_hash = @PasswordHash, token_version = token_version + 1, updated_at = now()
         where id = @UserId
        """;

    private const string CloseOtherTokensSql = """
        update password_reset_tokens set used_at = now()
        where user_id = @UserId and used_at is null
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapSystemGroup("/auth", null)
            .MapPost("/password-reset/confirm", Handle)
            .LimitFailedAttempts()
            .UsesLargePool()
            .WithName(nameof(ConfirmPasswordReset))
            .WithSummary("Set a new password with a reset token; older tokens stop working");

    private static async Task<Results<NoContent, ApiProblem>> Handle(
        Request request, SystemScope db, Validator validator, PasswordHashing passwords, FailedAttemptLimiter limiter,
        CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        var claimed = await db.QuerySingleOrDefaultAsync<Claimed>(ClaimSql, new { TokenHash = AuthRules.ResetTokenHash(request.Token!.Trim()) }, ct);
        if (claimed is null)
        {
            limiter.RecordFailure(db.Http);
            return ApiProblem.Validation("token", new(
                "This reset link is invalid, expired or already used.",
                "Este enlace de restablecimiento no es válido, expiró o ya se usó.",
                "Dieser Link zum Zurücksetzen ist ungültig, abgelaufen oder wurde bereits verwendet."));
        }

        await db.ExecuteAsync(SetPasswordSql, new { claimed.UserId, PasswordHash = passwords.Hash(request.NewPassword!) }, ct);
        await db.ExecuteAsync(CloseOtherTokensSql, new { claimed.UserId }, ct);
        db.ActAs(claimed.UserId);
        await db.AuditAsync(claimed.ClinicId ?? Audit.PlatformChain, "user.password_reset", "user", claimed.UserId, null, ct);
        return TypedResults.NoContent();
    }
}
