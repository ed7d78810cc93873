using ClinicFlow.Infrastructure;
using FluentValidation;

namespace ClinicFlow.Slices.Auth;

/// <summary>What every answer that signs a user in returns, and the password policy.</summary>
public static class AuthRules
{
    public sealed record SessionUser(Guid Id, string Email, string FullName, string? Role, bool Active, string? Phone,
        string Locale, Guid? ClinicId, DateTimeOffset CreatedAt);

    public sealed record SessionClinic(Guid Id, string Name, string Timezone, string Country, string Currency, string Locale,
        string? Phone, string? Address, string Plan, string SubscriptionStatus, DateTimeOffset? SubscriptionExpiresAt);

    /// <summary>The auth answer of SPEC §2b: <c>{ token, expiresAt, user, clinic }</c>.</summary>
    public sealed record Session(string Token, DateTimeOffset ExpiresAt, SessionUser User, SessionClinic? Clinic);

    private const string UserSql = """
        select id, email, full_name, role, active, phone, locale, clinic_id, created_at
        from users where id = @UserId
        """;

    private const string ClinicSql = """
        select id, name, timezone, country, currency, locale, phone, address, plan, subscription_status, subscription_expires_at
        from clinics where id = @ClinicId
        """;

    private const string TokenVersionSql = "select token_version from users where id = @UserId";

    /// <summary>Signs a fresh token for the user as the database holds them now, in the request's transaction.</summary>
    public static async Task<Session> SessionAsync(DbScope scope, JwtIssuer issuer, Guid userId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(scope);
        ArgumentNullException.ThrowIfNull(issuer);
        var user = await scope.QuerySingleAsync<SessionUser>(UserSql, new { UserId = userId }, ct);
        var clinic = user.ClinicId is { } clinicId
            ? await scope.QuerySingleAsync<SessionClinic>(ClinicSql, new { ClinicId = clinicId }, ct)
            : null;
        var tokenVersion = await scope.QuerySingleAsync<int>(TokenVersionSql, new { UserId = userId }, ct);
        var (token, expiresAt) = issuer.Issue(new TokenSubject(user.Id, user.Email, user.Role, user.ClinicId, tokenVersion));
        return new Session(token, expiresAt, user, clinic);
    }

    /// <summary>Only the SHA-256 of a password reset token is stored: a leaked table resets nobody's password.</summary>
    public static byte[] ResetTokenHash(string token) =>
        System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(token));

    public const int MinPasswordLength = 10;

    // The most common passwords of public breach corpora that are 10+ characters long.
    private static readonly HashSet<string> CommonPasswords = new(StringComparer.OrdinalIgnoreCase)
    {
        "1234567890", "0123456789", "12345678910", "123456789a", "a123456789", "1q2w3e4r5t", "1qaz2wsx3edc",
        "qwertyuiop", "qwerty1234", "qwerty12345", "asdfghjkl1", "zxcvbnm123", "password12", "password123",
        "password1234", "passw0rd123", "iloveyou12", "princess12", "football12", "baseball12", "starwars12",
        "welcome123", "letmein123", "administrator", "adminadmin", "admin12345", "changeme123", "trustno1234",
        "sunshine12", "superman12", "whatever12", "1111111111", "0000000000", "9876543210", "abcdefghij",
        "abc1234567", "contraseña", "contrasena", "contrasena123", "passwort12", "passwort123", "hallo12345",
        "qwertz1234", "clinicflow", "clinicflow1", "clinicflow123", "doctor1234", "medico1234", "dentist123",
    };

    /// <summary>At least ten characters, not one of the well-known passwords.</summary>
    public static IRuleBuilderOptions<T, string?> StrongPassword<T>(this IRuleBuilder<T, string?> rule) =>
        rule.NotEmpty()
            .MinimumLength(MinPasswordLength)
            .MaximumLength(200)
            .Must(p => p is null || !CommonPasswords.Contains(p))
            .WithMessage(_ => new Text(
                "This password is too common.",
                "Esta contraseña es demasiado común.",
                "Dieses Passwort ist zu verbreitet.").Current);
}
