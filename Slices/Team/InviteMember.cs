using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Clinics;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Team;

/// <summary>POST /api/team/invite: an admin invites someone by email; a single-use link valid 7 days leaves through the outbox.</summary>
public sealed class InviteMember : ICarterModule
{
    public sealed record Request(string? Email, AppRole? Role);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.Email).NotEmpty().EmailAddress().MaximumLength(254);
            RuleFor(r => r.Role).NotNull();
        }
    }

    private const string MemberExistsSql = "select count(*)::int from users where clinic_id = @ClinicId and email = @Email::citext";

    private const string ClinicSql = "select name, locale from clinics where id = @ClinicId";

    // Inviting an address again replaces its open invite: the old link answers 410 from now on.
    private const string ReplaceSql = """
        update team_invites set revoked_at = now()
        where clinic_id = @ClinicId and email = @Email::citext and accepted_at is null and revoked_at is null
        """;

    private const string InsertSql = """
        insert into team_invites (id, clinic_id, email, role, token_hash, expires_at, invited_by)
        values (@Id, @ClinicId, @Email, @Role, @TokenHash, now() + make_interval(days => @Days), @InvitedBy)
        returning id, email::text as email, role, 'pending' as status, expires_at, created_at, invited_by
        """;

    private sealed record ClinicRow(string Name, string Locale);

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/team")
            .MapPost("/invite", Handle)
            .RequireAdmin()
            .WithName(nameof(InviteMember))
            .WithSummary("Invite a team member by email (USER_LIMIT_REACHED counts open invites too)")
            .ProducesErrors(StatusCodes.Status409Conflict);

    private static async Task<Results<Created<Response>, ApiProblem>> Handle(
        Request request, Tenant tenant, Validator validator, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        var email = request.Email!.Trim();
        var role = TeamRules.RoleName(request.Role!.Value);

        // The clinic row lock serialises every seat-taking write of this clinic: 20 invites racing for
        // the last seat are counted one after another, so exactly one gets it.
        var capacity = await ClinicRules.UserCapacityAsync(tenant, tenant.ClinicId, ct, exceptInviteEmail: email);
        if (await tenant.QuerySingleAsync<int>(MemberExistsSql, new { tenant.ClinicId, Email = email }, ct) > 0)
        {
            return ApiProblem.Conflict(ErrorCodes.AlreadyExists, new(
                "This person is already a member of the clinic.",
                "Esta persona ya es miembro de la clínica.",
                "Diese Person ist bereits Mitglied der Praxis."));
        }

        if (!capacity.HasRoom)
        {
            return ApiProblem.Forbidden(ErrorCodes.UserLimitReached);
        }

        var replaced = await tenant.ExecuteAsync(ReplaceSql, new { tenant.ClinicId, Email = email }, ct);
        var token = SecretBox.NewToken();
        var invite = await tenant.QuerySingleAsync<Response>(InsertSql, new
        {
            Id = Guid.CreateVersion7(),
            tenant.ClinicId,
            Email = email,
            Role = role,
            TokenHash = SecretBox.Hash(token),
            Days = TeamRules.InviteValidDays,
            InvitedBy = tenant.UserId,
        }, ct);

        var clinic = await tenant.QuerySingleAsync<ClinicRow>(ClinicSql, new { tenant.ClinicId }, ct);
        var (subject, body) = TeamRules.InviteMail(clinic.Locale, clinic.Name, role, TeamRules.InviteLink(tenant.Http, token), invite.ExpiresAt);
        await tenant.EnqueueEmailAsync(tenant.ClinicId, email, subject, body, ct);
        await tenant.AuditAsync("team.invite", "team_invite", invite.Id, new { email, role, replaced = replaced > 0 }, ct);
        return TypedResults.Created($"/api/team/members/{invite.Id}", invite);
    }

    /// <summary>The invite as the admin sees it; the link itself is only ever in the mail.</summary>
    public sealed record Response(Guid Id, string Email, string Role, string Status, DateTimeOffset ExpiresAt, DateTimeOffset CreatedAt,
        Guid? InvitedBy);
}
