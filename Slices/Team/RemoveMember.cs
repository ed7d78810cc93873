using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace ClinicFlow.Slices.Team;

/// <summary>
/// DELETE /api/team/members/{id}: removes a member from the clinic (not oneself, not the last active
/// admin; their tokens stop working at once), or revokes an open invite when the id is an invite's.
/// </summary>
public sealed class RemoveMember : ICarterModule
{
    private const string InviteSql = """
        select accepted_at is not null as accepted, revoked_at is not null as revoked, email::text as email
        from team_invites
        where clinic_id = @ClinicId and id = @Id
        for update
        """;

    private const string RevokeInviteSql = "update team_invites set revoked_at = now() where clinic_id = @ClinicId and id = @Id";

    private const string TargetSql = """
        select id, role, active
        from users
        where clinic_id = @ClinicId and id = @Id
        for update
        """;

    private const string UnlinkDoctorSql = """
        update doctors set user_id = null, updated_at = now()
        where clinic_id = @ClinicId and user_id = @Id
        """;

    // The removed user keeps their account (they may join or create another clinic) but leaves this
    // one: no clinic, no role, no PIN, and a new token version so every token they hold stops working.
    private const string DetachSql = """
        update users
           set clinic_id = null, role = null, pin_hash = null, token_version = token_version + 1, updated_at = now()
         where clinic_id = @ClinicId and id = @Id
        """;

    // The detached row leaves the tenant's sight, which the users policy's check would refuse:
    // lift row-level security for this one statement (the where clause names the clinic).
    private const string BypassOnSql = "select set_config('app.bypass_rls', 'on', true)";

    private const string BypassOffSql = "select set_config('app.bypass_rls', '', true)";

    private sealed record InviteRow(bool Accepted, bool Revoked, string Email);

    private sealed record Target(Guid Id, string Role, bool Active);

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/team")
            .MapDelete("/members/{id:guid}", Handle)
            .RequireAdmin()
            .WithName(nameof(RemoveMember))
            .WithSummary("Remove a member from the clinic, or revoke an open invite by its id")
            .ProducesErrors(StatusCodes.Status409Conflict);

    private static async Task<Results<NoContent, ApiProblem>> Handle(Guid id, Tenant tenant, CancellationToken ct)
    {
        if (await TeamRules.LockAsAdminAsync(tenant, ct) is { } refused)
        {
            return refused;
        }

        var invite = await tenant.QuerySingleOrDefaultAsync<InviteRow>(InviteSql, new { tenant.ClinicId, Id = id }, ct);
        if (invite is not null)
        {
            return await RevokeInviteAsync(id, invite, tenant, ct);
        }

        var target = await tenant.QuerySingleOrDefaultAsync<Target>(TargetSql, new { tenant.ClinicId, Id = id }, ct);
        if (target is null)
        {
            return ApiProblem.NotFound();
        }

        if (target.Id == tenant.UserId)
        {
            return ApiProblem.Conflict(ErrorCodes.Conflict, new(
                "You cannot remove yourself from the clinic.",
                "No puede quitarse a sí mismo de la clínica.",
                "Sie können sich nicht selbst aus der Praxis entfernen."));
        }

        if (target is { Role: "admin", Active: true } && !await TeamRules.AnotherActiveAdminAsync(tenant, target.Id, ct))
        {
            return TeamRules.LastAdmin();
        }

        await tenant.ExecuteAsync(UnlinkDoctorSql, new { tenant.ClinicId, Id = id }, ct);
        try
        {
            await tenant.ExecuteAsync(BypassOnSql, null, ct);
            await tenant.ExecuteAsync(DetachSql, new { tenant.ClinicId, Id = id }, ct);
            await tenant.ExecuteAsync(BypassOffSql, null, ct);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.ForeignKeyViolation)
        {
            return ApiProblem.Conflict(ErrorCodes.Conflict, new(
                "This member is still referenced by the clinic's records; deactivate them instead.",
                "Este miembro sigue referenciado en los registros de la clínica; desactívelo en su lugar.",
                "Dieses Mitglied wird noch in den Unterlagen der Praxis verwendet; deaktivieren Sie es stattdessen."));
        }

        await tenant.AuditAsync("team.member_remove", "user", id, new { role = target.Role, wasActive = target.Active }, ct);
        return TypedResults.NoContent();
    }

    // Revoking twice answers 204 and keeps the first revocation; an accepted invite is a member now.
    private static async Task<Results<NoContent, ApiProblem>> RevokeInviteAsync(Guid id, InviteRow invite, Tenant tenant, CancellationToken ct)
    {
        if (invite.Accepted)
        {
            return ApiProblem.Conflict(ErrorCodes.InvalidState, new(
                "This invitation was already accepted; remove the member instead.",
                "Esta invitación ya fue aceptada; quite al miembro en su lugar.",
                "Diese Einladung wurde bereits angenommen; entfernen Sie stattdessen das Mitglied."));
        }

        if (!invite.Revoked)
        {
            await tenant.ExecuteAsync(RevokeInviteSql, new { tenant.ClinicId, Id = id }, ct);
            await tenant.AuditAsync("team.invite_revoke", "team_invite", id, new { email = invite.Email }, ct);
        }

        return TypedResults.NoContent();
    }
}
