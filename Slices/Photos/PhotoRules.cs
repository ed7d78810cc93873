using System.Text.Json;
using System.Text.RegularExpressions;
using ClinicFlow.Infrastructure;
using Microsoft.IdentityModel.Tokens;

namespace ClinicFlow.Slices.Photos;

/// <summary>
/// What the photo slices share: the limits, the form check of the key envelope (a JWE compact
/// serialization wrapping the photo's content key), the metadata every answer carries, and erasure.
/// </summary>
public static partial class PhotoRules
{
    /// <summary>Largest ciphertext accepted (SPEC: 20 MB).</summary>
    public const long MaxFileBytes = 20L * 1024 * 1024;

    /// <summary>Rows of photo_chunks hold this many bytes (the last one fewer): memory per upload or download stays at one chunk.</summary>
    public const int ChunkBytes = 256 * 1024;

    /// <summary>
    /// A content key's envelope is well under 1 KB (an RSA-4096 wrapped key is 683 characters); 8 KB
    /// leaves room and keeps the X-Key-Envelope header of a download within every proxy's limits.
    /// </summary>
    public const int MaxEnvelopeChars = 8 * 1024;

    /// <summary>The multipart fields around the file: the route accepts the file plus this much.</summary>
    public const long MaxRequestBytes = MaxFileBytes + 256 * 1024;

    public static readonly string[] Categories = ["before", "after", "progress", "other"];

    public static readonly string[] ConsentStatuses = ["pending", "granted", "revoked"];

    private static readonly string[] KeyAlgorithms = ["ECDH-ES+A256KW", "RSA-OAEP-256"];

    [GeneratedRegex("^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$")]
    private static partial Regex JweCompactFormat();

    [GeneratedRegex("^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$")]
    private static partial Regex MimeTypeFormat();

    public static bool IsMimeType(string? value) => value is not null && MimeTypeFormat().IsMatch(value);

    /// <summary>
    /// The envelope's form, as for consent answers: five base64url parts (a key-wrapping algorithm has
    /// an encrypted key), a protected header naming an allowed <c>alg</c>, <c>enc</c> A256GCM and a
    /// <c>kid</c>. The server never decrypts it.
    /// </summary>
    public static bool IsKeyEnvelope(string? value)
    {
        if (value is not { Length: > 0 and <= MaxEnvelopeChars } || !JweCompactFormat().IsMatch(value))
        {
            return false;
        }

        try
        {
            using var header = JsonDocument.Parse(Base64UrlEncoder.DecodeBytes(value[..value.IndexOf('.', StringComparison.Ordinal)]));
            var root = header.RootElement;
            return root.ValueKind == JsonValueKind.Object
                && root.TryGetProperty("alg", out var alg) && alg.ValueKind == JsonValueKind.String && KeyAlgorithms.Contains(alg.GetString())
                && root.TryGetProperty("enc", out var enc) && enc.ValueKind == JsonValueKind.String && enc.GetString() == "A256GCM"
                && root.TryGetProperty("kid", out var kid) && kid.ValueKind == JsonValueKind.String && kid.GetString() is { Length: > 0 };
        }
        catch (Exception e) when (e is JsonException or FormatException or ArgumentException)
        {
            return false;
        }
    }

    public static readonly Text EnvelopeMessage = new(
        $"Use a JWE compact serialization (alg ECDH-ES+A256KW or RSA-OAEP-256, enc A256GCM, a kid) of at most {MaxEnvelopeChars} characters.",
        $"Use una serialización compacta JWE (alg ECDH-ES+A256KW o RSA-OAEP-256, enc A256GCM, un kid) de hasta {MaxEnvelopeChars} caracteres.",
        $"Verwenden Sie eine JWE-Compact-Serialisierung (alg ECDH-ES+A256KW oder RSA-OAEP-256, enc A256GCM, eine kid) mit höchstens {MaxEnvelopeChars} Zeichen.");

    /// <summary>A photo's metadata as every photo answer carries it, from <c>photos ph</c>.</summary>
    public sealed record PhotoRow(Guid Id, Guid PatientId, string MimeType, DateTimeOffset? TakenAt, string Category, string? BodyRegion,
        string ConsentStatus, Guid? ConsentFormId, long SizeBytes, string Sha256, string KeyEnvelope, DateTimeOffset CreatedAt);

    public const string PhotoColumns = """
        ph.id, ph.patient_id, ph.mime_type, ph.taken_at, ph.category, ph.body_region, ph.consent_status, ph.consent_form_id,
        ph.size_bytes, encode(ph.sha256, 'hex') as sha256, ph.key_envelope, ph.created_at
        """;

    /// <summary>Where the app downloads the ciphertext.</summary>
    public static string DownloadUrl(HttpContext http, Guid id) => http.PublicUrl($"/api/photos/{id}/download");

    // The SPEC's erasure list names photos: no retention duty keeps them (docs/decisions.md). Chunks go with them.
    private const string EraseSql = """
        delete from photos where clinic_id = @ClinicId and patient_id = @PatientId
        """;

    /// <summary>Part of a patient's erasure (Art. 17): every photo of the patient goes, in the erasure's transaction.</summary>
    public static Task<int> EraseForPatientAsync(DbScope scope, Guid clinicId, Guid patientId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(scope);
        return scope.ExecuteAsync(EraseSql, new { ClinicId = clinicId, PatientId = patientId }, ct);
    }
}
