using System.Globalization;
using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Superadmin;

/// <summary>GET /api/superadmin/invite-codes: codes for invite-only registration, newest first, with a derived status.</summary>
public sealed class ListInviteCodes : ICarterModule
{
    public static readonly string[] Statuses = ["active", "expired", "revoked", "used_up"];

    // Revoked wins over expired, expired over used up: the first reason a code stopped working.
    private const string Sql = """
        select code, max_uses, uses, expires_at, plan, revoked_at, created_at, status
        from (
            select code, max_uses, uses, expires_at, plan, revoked_at, created_at,
                   case when revoked_at is not null then 'revoked'
                        when expires_at <= now() then 'expired'
                        when uses >= max_uses then 'used_up'
                        else 'active' end as status
            from invite_codes
        ) i
        where (@Status::text is null or status = @Status::text)
          and (@AfterAt::timestamptz is null or (created_at, code) < (@AfterAt::timestamptz, @AfterCode::text))
        order by created_at desc, code desc
        limit @Take
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapSuperadminGroup("/invite-codes")
            .MapGet("/", Handle)
            .WithName(nameof(ListInviteCodes))
            .WithSummary("Invite codes, newest first, with status active, expired, revoked or used_up; filter status");

    private static async Task<Results<Ok<Page<InviteCodeItem>>, ApiProblem>> Handle(
        string? status, int? limit, string? cursor, SystemScope db, CancellationToken ct)
    {
        if (!Paging.TryRead(limit, cursor, out var take, out var after, out var problem))
        {
            return problem!;
        }

        // The cursor carries the last row's (created_at, code).
        DateTimeOffset? afterAt = null;
        string? afterCode = null;
        if (after is not null)
        {
            var parts = after.Split('|', 2);
            if (parts.Length != 2 || !DateTimeOffset.TryParseExact(parts[0], "O", CultureInfo.InvariantCulture, DateTimeStyles.None, out var at))
            {
                return ApiProblem.Validation("cursor", new("The cursor is not valid.", "El cursor no es válido.", "Der Cursor ist ungültig."));
            }

            (afterAt, afterCode) = (at, parts[1]);
        }

        if (status is not null && !Statuses.Contains(status))
        {
            return ApiProblem.Validation("status", new(
                "Use active, expired, revoked or used_up.",
                "Use active, expired, revoked o used_up.",
                "Verwenden Sie active, expired, revoked oder used_up."));
        }

        var rows = await db.QueryAsync<InviteCodeItem>(Sql, new { Status = status, AfterAt = afterAt, AfterCode = afterCode, Take = take + 1 }, ct);
        return TypedResults.Ok(Paging.ToPage(rows, take, r => r.CreatedAt.ToString("O", CultureInfo.InvariantCulture) + "|" + r.Code));
    }

    public sealed record InviteCodeItem(string Code, int MaxUses, int Uses, DateTimeOffset? ExpiresAt, string Plan, DateTimeOffset? RevokedAt,
        DateTimeOffset CreatedAt, string Status);
}
