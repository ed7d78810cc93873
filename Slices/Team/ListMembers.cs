using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Team;

/// <summary>GET /api/team/members: the clinic's users and its open invites, for the team screen.</summary>
public sealed class ListMembers : ICarterModule
{
    private const string MembersSql = """
        select id, email::text as email, full_name, role, active, created_at
        from users
        where clinic_id = @ClinicId
        order by id
        """;

    private const string InvitesSql = """
        select id, email::text as email, role, expires_at, created_at, invited_by
        from team_invites
        where clinic_id = @ClinicId and accepted_at is null and revoked_at is null and expires_at > now()
        order by id
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/team")
            .MapGet("/members", Handle)
            .RequireAdmin()
            .WithName(nameof(ListMembers))
            .WithSummary("The clinic's members and open invites");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(Tenant tenant, CancellationToken ct)
    {
        var members = await tenant.QueryAsync<Member>(MembersSql, new { tenant.ClinicId }, ct);
        var invites = await tenant.QueryAsync<Invite>(InvitesSql, new { tenant.ClinicId }, ct);
        return TypedResults.Ok(new Response(members.ToList(), invites.ToList()));
    }

    public sealed record Member(Guid Id, string Email, string FullName, string Role, bool Active, DateTimeOffset CreatedAt);

    public sealed record Invite(Guid Id, string Email, string Role, DateTimeOffset ExpiresAt, DateTimeOffset CreatedAt, Guid? InvitedBy);

    public sealed record Response(IReadOnlyList<Member> Members, IReadOnlyList<Invite> Invites);
}
