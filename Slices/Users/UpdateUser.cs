using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Clinics;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Users;

/// <summary>PATCH /api/users/{id}: an admin changes a user's role, active flag or name; the clinic always keeps an active admin.</summary>
public sealed class UpdateUser : ICarterModule
{
    public sealed record Request(AppRole? Role, bool? Active, string? FullName);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.FullName).NotEmpty().MaximumLength(200).When(r => r.FullName is not null);
        }
    }

    private sealed record Target(Guid Id, string Role, bool Active, string FullName);

    // Serialises changes to one clinic's users, so two admins demoting each other cannot both succeed.
    private const string LockClinicSql = "select 1 from clinics where id = @ClinicId for update";

    private const string TargetSql = """
        select id, role, active, full_name
        from users
        where clinic_id = @ClinicId and id = @Id
        for update
        """;

    private const string OtherActiveAdminsSql = """
        select count(*)::int
        from users
        where clinic_id = @ClinicId and role = 'admin' and active and id <> @Id
        """;

    private const string UpdateSql = """
        update users
           set role = @Role, active = @Active, full_name = @FullName,
               token_version = token_version + @TokenVersionBump, updated_at = now()
         where clinic_id = @ClinicId and id = @Id
        returning id, email, full_name, role, active, phone, locale, clinic_id, created_at
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/users")
            .MapPatch("/{id:guid}", Handle)
            .RequireAdmin()
            .WithName(nameof(UpdateUser))
            .WithSummary("Change a user's role, active flag or name")
            .ProducesErrors(StatusCodes.Status409Conflict);

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(
        Guid id, Request request, Tenant tenant, Validator validator, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        await tenant.ExecuteAsync(LockClinicSql, new { tenant.ClinicId }, ct);
        var target = await tenant.QuerySingleOrDefaultAsync<Target>(TargetSql, new { tenant.ClinicId, Id = id }, ct);
        if (target is null)
        {
            return ApiProblem.NotFound();
        }

        var role = request.Role is { } r ? r.ToString().ToLowerInvariant() : target.Role;
        var active = request.Active ?? target.Active;
        var fullName = request.FullName?.Trim() ?? target.FullName;

        var losesAdmin = target is { Role: "admin", Active: true } && (role != "admin" || !active);
        if (losesAdmin && await tenant.QuerySingleAsync<int>(OtherActiveAdminsSql, new { tenant.ClinicId, Id = id }, ct) == 0)
        {
            return ApiProblem.Conflict(ErrorCodes.Conflict, new(
                "The clinic's last active admin cannot be demoted or deactivated.",
                "El último administrador activo de la clínica no puede perder su rol ni ser desactivado.",
                "Der letzte aktive Administrator der Praxis kann weder herabgestuft noch deaktiviert werden."));
        }

        if (active && !target.Active)
        {
            var capacity = await ClinicRules.UserCapacityAsync(tenant, tenant.ClinicId, ct);
            if (!capacity.HasRoom)
            {
                return ApiProblem.Forbidden(ErrorCodes.UserLimitReached);
            }
        }

        var changes = new Dictionary<string, object?>();
        if (role != target.Role)
        {
            changes["role"] = role;
        }

        if (active != target.Active)
        {
            changes["active"] = active;
        }

        if (fullName != target.FullName)
        {
            changes["fullName"] = fullName;
        }

        var user = await tenant.QuerySingleAsync<Response>(UpdateSql, new
        {
            tenant.ClinicId,
            Id = id,
            Role = role,
            Active = active,
            FullName = fullName,
            // A new role or a deactivation must not ride on tokens issued before it.
            TokenVersionBump = changes.ContainsKey("role") || (changes.ContainsKey("active") && !active) ? 1 : 0,
        }, ct);
        if (changes.Count > 0)
        {
            await tenant.AuditAsync("user.update", "user", id, changes, ct);
        }

        return TypedResults.Ok(user);
    }

    public sealed record Response(Guid Id, string Email, string FullName, string Role, bool Active, string? Phone,
        string Locale, Guid ClinicId, DateTimeOffset CreatedAt);
}
