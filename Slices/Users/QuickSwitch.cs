using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Auth;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Users;

/// <summary>POST /api/users/quick-switch: on a shared tablet, another active user of the clinic signs in with their PIN.</summary>
public sealed class QuickSwitch : ICarterModule
{
    public sealed record Request(Guid? UserId, string? Pin);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.UserId).NotEmpty();
            RuleFor(r => r.Pin).NotEmpty().MaximumLength(8);
        }
    }

    private const string PinSql = """
        select pin_hash
        from users
        where clinic_id = @ClinicId and id = @UserId and active
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/users")
            .MapPost("/quick-switch", Handle)
            .LimitFailedAttempts()
            .UsesLargePool()
            .WithName(nameof(QuickSwitch))
            .WithSummary("Switch to another user of the clinic with their PIN");

    private static async Task<Results<Ok<AuthRules.Session>, ApiProblem>> Handle(
        Request request, Tenant tenant, Validator validator, PasswordHashing passwords, JwtIssuer issuer,
        FailedAttemptLimiter limiter, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        var userId = request.UserId!.Value;
        var pinHash = await tenant.QuerySingleOrDefaultAsync<string>(PinSql, new { tenant.ClinicId, UserId = userId }, ct);
        // Unknown user, another clinic's user, no PIN or a wrong one: the same answer and the same work for all.
        if (!passwords.Verify(pinHash, request.Pin!))
        {
            limiter.RecordFailure(tenant.Http);
            return ApiProblem.Unauthorized(ErrorCodes.InvalidCredentials);
        }

        await tenant.AuditAsync("user.quick_switch", "user", userId, new { fromUserId = tenant.UserId }, ct);
        return TypedResults.Ok(await AuthRules.SessionAsync(tenant, issuer, userId, ct));
    }
}
