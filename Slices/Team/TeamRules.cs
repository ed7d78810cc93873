using ClinicFlow.Infrastructure;

namespace ClinicFlow.Slices.Team;

/// <summary>What the team slices share: invite links, the invite mail, and the admin checks under the clinic lock.</summary>
public static class TeamRules
{
    public const int InviteValidDays = 7;

    /// <summary>The front end's page for an invite link; it reads GET /api/team/invite/{token}.</summary>
    public static string InviteLink(HttpContext http, string token) => http.PublicUrl("/invite/" + token);

    public static string RoleName(AppRole role) => role.ToString().ToLowerInvariant();

    private const string FindInviteSql = """
        select i.id, i.clinic_id, c.name as clinic_name, i.email::text as email, i.role, i.expires_at,
               i.accepted_at, i.revoked_at, i.expires_at <= now() as expired
        from team_invites i
        join clinics c on c.id = i.clinic_id
        where i.token_hash = @TokenHash
        """;

    public sealed record InviteRow(Guid Id, Guid ClinicId, string ClinicName, string Email, string Role, DateTimeOffset ExpiresAt,
        DateTimeOffset? AcceptedAt, DateTimeOffset? RevokedAt, bool Expired);

    /// <summary>The invite a link token names (system connection: the link is the only credential), or null.</summary>
    public static Task<InviteRow?> FindInviteAsync(DbScope db, string token, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(db);
        return string.IsNullOrEmpty(token) || token.Length > 200
            ? Task.FromResult<InviteRow?>(null)
            : db.QuerySingleOrDefaultAsync<InviteRow>(FindInviteSql, new { TokenHash = SecretBox.Hash(token) }, ct);
    }

    /// <summary>410 for a link that no longer opens: used or revoked (LINK_REVOKED), expired (LINK_EXPIRED).</summary>
    public static ApiProblem? Gone(InviteRow row)
    {
        ArgumentNullException.ThrowIfNull(row);
        if (row.AcceptedAt is not null)
        {
            return ApiProblem.Of(StatusCodes.Status410Gone, ErrorCodes.LinkRevoked, new(
                "This invitation has already been used.", "Esta invitación ya se usó.", "Diese Einladung wurde bereits verwendet."));
        }

        if (row.RevokedAt is not null)
        {
            return ApiProblem.Of(StatusCodes.Status410Gone, ErrorCodes.LinkRevoked);
        }

        return row.Expired ? ApiProblem.Of(StatusCodes.Status410Gone, ErrorCodes.LinkExpired) : null;
    }

    // Serialises membership changes of one clinic (invites, removals, role changes, user creation),
    // so two admins demoting or removing each other cannot both succeed.
    private const string LockClinicSql = "select 1 from clinics where id = @ClinicId for update";

    private const string CallerIsAdminSql = """
        select count(*)::int from users
        where clinic_id = @ClinicId and id = @UserId and role = 'admin' and active
        """;

    private const string OtherActiveAdminsSql = """
        select count(*)::int
        from users
        where clinic_id = @ClinicId and role = 'admin' and active and id <> @Id
        """;

    /// <summary>
    /// Locks the clinic row and checks again that the caller is still an active admin: a request that
    /// waited for the lock behind one that demoted or removed its caller must not act any more.
    /// </summary>
    public static async Task<ApiProblem?> LockAsAdminAsync(Tenant tenant, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        await tenant.ExecuteAsync(LockClinicSql, new { tenant.ClinicId }, ct);
        var stillAdmin = await tenant.QuerySingleAsync<int>(CallerIsAdminSql, new { tenant.ClinicId, tenant.UserId }, ct);
        return stillAdmin == 1 ? null : ApiProblem.Forbidden();
    }

    /// <summary>True when someone other than <paramref name="userId"/> is an active admin of the clinic.</summary>
    public static async Task<bool> AnotherActiveAdminAsync(Tenant tenant, Guid userId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        return await tenant.QuerySingleAsync<int>(OtherActiveAdminsSql, new { tenant.ClinicId, Id = userId }, ct) > 0;
    }

    public static ApiProblem LastAdmin() => ApiProblem.Conflict(ErrorCodes.Conflict, new(
        "The clinic must keep an active admin.",
        "La clínica debe conservar un administrador activo.",
        "Die Praxis muss einen aktiven Administrator behalten."));

    /// <summary>The invite mail in the clinic's language.</summary>
    public static (string Subject, string Body) InviteMail(string locale, string clinicName, string role, string link, DateTimeOffset expiresAt)
    {
        var until = expiresAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", System.Globalization.CultureInfo.InvariantCulture);
        return locale switch
        {
            "es" => ($"Invitación a {clinicName} en ClinicFlow",
                $"Le invitaron a unirse a {clinicName} en ClinicFlow con el rol «{RoleLabel(role, "es")}».\n\n"
                + $"Abra este enlace para aceptar (válido hasta {until}, un solo uso):\n{link}\n\n"
                + "Si no esperaba esta invitación, ignore este correo."),
            "de" => ($"Einladung zu {clinicName} bei ClinicFlow",
                $"Sie wurden eingeladen, {clinicName} bei ClinicFlow mit der Rolle „{RoleLabel(role, "de")}“ beizutreten.\n\n"
                + $"Öffnen Sie diesen Link, um anzunehmen (gültig bis {until}, nur einmal verwendbar):\n{link}\n\n"
                + "Wenn Sie diese Einladung nicht erwartet haben, ignorieren Sie diese E-Mail."),
            _ => ($"Invitation to {clinicName} on ClinicFlow",
                $"You have been invited to join {clinicName} on ClinicFlow as {RoleLabel(role, "en")}.\n\n"
                + $"Open this link to accept (valid until {until}, single use):\n{link}\n\n"
                + "If you did not expect this invitation, ignore this email."),
        };
    }

    private static string RoleLabel(string role, string locale) => (role, locale) switch
    {
        ("admin", "es") => "administrador",
        ("doctor", "es") => "médico",
        ("staff", "es") => "recepción",
        ("admin", "de") => "Administrator",
        ("doctor", "de") => "Arzt",
        ("staff", "de") => "Empfang",
        _ => role,
    };
}
