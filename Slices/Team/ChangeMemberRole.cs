using Carter;
using ClinicFlow.Infrastructure;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Team;

/// <summary>PATCH /api/team/members/{userId}/role: an admin changes a member's role; the clinic never loses its last active admin.</summary>
public sealed class ChangeMemberRole : ICarterModule
{
    public sealed record Request(AppRole? Role);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.Role).NotNull();
        }
    }

    private const string TargetSql = """
        select id, role, active
        from users
        where clinic_id = @ClinicId and id = @Id
        for update
        """;

    // A new role must not ride on tokens issued before it: the token version moves on.
    private const string UpdateSql = """
        update users set role = @Role, token_version = token_version + 1, updated_at = now()
        where clinic_id = @ClinicId and id = @Id
        returning id, email::text as email, full_name, role, active
        """;

    private const string CurrentSql = """
        select id, email::text as email, full_name, role, active
        from users
        where clinic_id = @ClinicId and id = @Id
        """;

    private sealed record Target(Guid Id, string Role, bool Active);

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/team")
            .MapPatch("/members/{userId:guid}/role", Handle)
            .RequireAdmin()
            .WithName(nameof(ChangeMemberRole))
            .WithSummary("Change a member's role (never leaves the clinic without an active admin)")
            .ProducesErrors(StatusCodes.Status409Conflict);

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(
        Guid userId, Request request, Tenant tenant, Validator validator, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        if (await TeamRules.LockAsAdminAsync(tenant, ct) is { } refused)
        {
            return refused;
        }

        var target = await tenant.QuerySingleOrDefaultAsync<Target>(TargetSql, new { tenant.ClinicId, Id = userId }, ct);
        if (target is null)
        {
            return ApiProblem.NotFound();
        }

        var role = TeamRules.RoleName(request.Role!.Value);
        if (role == target.Role)
        {
            return TypedResults.Ok(await tenant.QuerySingleAsync<Response>(CurrentSql, new { tenant.ClinicId, Id = userId }, ct));
        }

        if (target is { Role: "admin", Active: true } && !await TeamRules.AnotherActiveAdminAsync(tenant, target.Id, ct))
        {
            return TeamRules.LastAdmin();
        }

        var member = await tenant.QuerySingleAsync<Response>(UpdateSql, new { tenant.ClinicId, Id = userId, Role = role }, ct);
        await tenant.AuditAsync("team.member_role", "user", userId, new { from = target.Role, to = role }, ct);
        return TypedResults.Ok(member);
    }

    public sealed record Response(Guid Id, string Email, string FullName, string Role, bool Active);
}
