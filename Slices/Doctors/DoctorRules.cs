using System.Text.RegularExpressions;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Clinics;
using FluentValidation;
using Npgsql;

namespace ClinicFlow.Slices.Doctors;

/// <summary>Rules every doctor write shares: field formats, the user link and the plan's doctor limit.</summary>
public static partial class DoctorRules
{
    // The clinic row is the lock that makes concurrent creations and reactivations of one clinic count
    // one after another; the count is a statement of its own so it sees what the previous holder committed.
    private const string LockClinicSql = """
        select plan, max_doctors_override, max_users_override
        from clinics
        where id = @ClinicId
        for update
        """;

    private const string ActiveDoctorsSql = """
        select count(*)::int
        from doctors
        where clinic_id = @ClinicId and active
        """;

    private const string LinkableUserSql = """
        select role, active
        from users
        where clinic_id = @ClinicId and id = @UserId
        """;

    private sealed record PlanRow(string Plan, int? MaxDoctorsOverride, int? MaxUsersOverride);

    private sealed record UserRow(string? Role, bool Active);

    [GeneratedRegex("^#[0-9A-Fa-f]{6}$")]
    private static partial Regex ColorFormat();

    /// <summary>A <c>#rrggbb</c> colour in the lowercase form the database stores; null clears it.</summary>
    public static string? CleanColor(string? value) => value.TrimToNull()?.ToLowerInvariant();

    public static IRuleBuilderOptions<T, string?> Color<T>(this IRuleBuilder<T, string?> rule) =>
        rule.Must(c => string.IsNullOrWhiteSpace(c) || ColorFormat().IsMatch(c.Trim()))
            .WithMessage("Use a colour as #rrggbb.");

    /// <summary>
    /// Null when <paramref name="userId"/> may be linked to a doctor: an active user of this clinic with
    /// role doctor. Another clinic's or an unknown user is not found; a user of the wrong role or an
    /// inactive one is a validation error on <c>userId</c>.
    /// </summary>
    public static async Task<ApiProblem?> CheckLinkableUserAsync(Tenant tenant, Guid userId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        var user = await tenant.QuerySingleOrDefaultAsync<UserRow>(LinkableUserSql, new { tenant.ClinicId, UserId = userId }, ct);
        if (user is null)
        {
            return ApiProblem.NotFound();
        }

        if (user.Role != "doctor")
        {
            return ApiProblem.Validation("userId", new(
                "Only a user with the role doctor can be linked to a doctor.",
                "Solo un usuario con el rol médico puede vincularse a un médico.",
                "Nur ein Benutzer mit der Rolle Arzt kann mit einem Arzt verknüpft werden."));
        }

        return user.Active
            ? null
            : ApiProblem.Validation("userId", new(
                "This user is inactive.", "Este usuario está inactivo.", "Dieser Benutzer ist deaktiviert."));
    }

    /// <summary>
    /// Locks the clinic row, then tells whether one more active doctor fits the plan (a superadmin
    /// override wins; no limit on enterprise). Call it before making a doctor active.
    /// </summary>
    public static async Task<ApiProblem?> CheckRoomForActiveDoctorAsync(Tenant tenant, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        var plan = await tenant.QuerySingleAsync<PlanRow>(LockClinicSql, new { tenant.ClinicId }, ct);
        if (ClinicRules.Limits(plan.Plan, plan.MaxDoctorsOverride, plan.MaxUsersOverride).Doctors is not { } max)
        {
            return null;
        }

        var active = await tenant.QuerySingleAsync<int>(ActiveDoctorsSql, new { tenant.ClinicId }, ct);
        return active < max ? null : ApiProblem.Forbidden(ErrorCodes.DoctorLimitReached);
    }

    /// <summary>The user is already linked to another doctor (ux_doctors_user).</summary>
    public static bool IsUserTaken(PostgresException e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return e.SqlState == PostgresErrorCodes.UniqueViolation && e.ConstraintName == "ux_doctors_user";
    }

    public static ApiProblem UserTaken() => ApiProblem.Conflict(ErrorCodes.AlreadyExists, new(
        "This user is already linked to another doctor.",
        "Este usuario ya está vinculado a otro médico.",
        "Dieser Benutzer ist bereits mit einem anderen Arzt verknüpft."));
}
