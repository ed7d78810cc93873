using ClinicFlow.Infrastructure;

namespace ClinicFlow.Slices.Attendance;

/// <summary>
/// The clinic's QR check-in secret, shared by showing and rotating it: at most one active token a
/// clinic (ux_attendance_tokens_active), found by its SHA-256 and shown again from its sealed copy.
/// </summary>
public static class AttendanceRules
{
    /// <summary>A token as the admin slices hand it out.</summary>
    public sealed record Issued(Guid Id, string Token, DateTimeOffset CreatedAt);

    // Of two concurrent issuers the second waits on the partial unique index and then inserts nothing.
    private const string InsertSql = """
        insert into attendance_tokens (id, clinic_id, token_hash, token_sealed)
        values (@Id, @ClinicId, @TokenHash, @TokenSealed)
        on conflict (clinic_id) where revoked_at is null do nothing
        returning created_at
        """;

    /// <summary>Binds the sealed copy to its clinic and row, so it opens nowhere else.</summary>
    public static string SealContext(Guid clinicId, Guid id) => $"attendance:{clinicId}:{id}";

    /// <summary>
    /// The public check-in page of the web front end; it asks the patient's phone and calls
    /// POST /api/attendance/check-in/{token}.
    /// </summary>
    public static string CheckInUrl(HttpContext http, string token) => http.PublicUrl($"/check-in/{token}");

    /// <summary>A new active token for the tenant's clinic, or null when the clinic already has one.</summary>
    public static async Task<Issued?> TryIssueAsync(Tenant tenant, SecretBox secrets, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        ArgumentNullException.ThrowIfNull(secrets);
        tenant.UseTransaction(); // the QR's GET issues the first token
        var id = Guid.CreateVersion7();
        var token = SecretBox.NewToken();
        var createdAt = await tenant.QuerySingleOrDefaultAsync<DateTimeOffset?>(InsertSql, new
        {
            Id = id,
            tenant.ClinicId,
            TokenHash = SecretBox.Hash(token),
            TokenSealed = secrets.Seal(token, SealContext(tenant.ClinicId, id)),
        }, ct);
        return createdAt is { } at ? new Issued(id, token, at) : null;
    }
}
