using ClinicFlow.Infrastructure;

namespace ClinicFlow.Slices.Calendars;

/// <summary>The doctor's ICS secret as the URL slices mint, store and show it again.</summary>
public static class CalendarRules
{
    /// <summary>What the audit entry of a new secret names: the field, never the secret.</summary>
    public static readonly IReadOnlyList<string> SecretFields = ["icsToken"];

    /// <summary>A new feed secret: the bearer token, its lookup hash and its copy sealed to this doctor's row.</summary>
    public sealed record Secret(string Token, byte[] Hash, string Sealed);

    public static Secret NewSecret(SecretBox box, Guid clinicId, Guid doctorId)
    {
        ArgumentNullException.ThrowIfNull(box);
        var token = SecretBox.NewToken();
        return new Secret(token, SecretBox.Hash(token), box.Seal(token, SealContext(clinicId, doctorId)));
    }

    /// <summary>
    /// Opens the stored copy. A copy that no longer opens means the encryption key was changed
    /// without re-sealing: a fault of the deployment, not something to paper over with a new
    /// secret, which would silently break every calendar subscribed to the old URL.
    /// </summary>
    public static string Open(SecretBox box, string sealedToken, Guid clinicId, Guid doctorId)
    {
        ArgumentNullException.ThrowIfNull(box);
        return box.Open(sealedToken, SealContext(clinicId, doctorId))
            ?? throw new InvalidOperationException($"The ICS secret of doctor {doctorId} does not open with the configured Secrets:EncryptionKey.");
    }

    public static string FeedUrl(HttpContext http, string token) => http.PublicUrl($"/api/ics/{token}.ics");

    /// <summary>Admins, and the doctor whose account the doctor row is linked to.</summary>
    public static bool MayManage(Tenant tenant, Guid? doctorUserId)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        return tenant.IsAdmin || (tenant.Role == AppRole.Doctor && doctorUserId == tenant.UserId);
    }

    private static string SealContext(Guid clinicId, Guid doctorId) => $"ics:{clinicId}:{doctorId}";
}
