using System.Text;
using System.Text.Json;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Settings;
using Microsoft.IdentityModel.Tokens;

namespace ClinicFlow.Slices.Consent;

/// <summary>
/// What the consent slices share: the link's secret, a form's status, the built-in templates and
/// the form check of a submitted JWE (the server never decrypts it: it holds no private key).
/// </summary>
public static class ConsentRules
{
    public const int MaxEnvelopeChars = 512 * 1024;

    public const string Pending = "pending";
    public const string Submitted = "submitted";
    public const string Revoked = "revoked";
    public const string Expired = "expired";

    public static readonly string[] Statuses = [Pending, Submitted, Revoked, Expired];

    /// <summary>A form's status from its row (alias f); revoked wins over submitted, submitted over expiry.</summary>
    public const string StatusSql = """
        case when f.revoked_at is not null then 'revoked'
             when f.submitted_at is not null then 'submitted'
             when f.expires_at <= now() then 'expired'
             else 'pending' end
        """;

    /// <summary>Binds the sealed copy of a link's token to its clinic and form, so it opens nowhere else.</summary>
    public static string SealContext(Guid clinicId, Guid id) => $"consent:{clinicId}:{id}";

    /// <summary>The patient's page of the web front end; it reads and submits through the public API.</summary>
    public static string Url(HttpContext http, string token) => http.PublicUrl($"/consent/{token}");

    /// <summary>A built-in text a form can start from (<c>templateId</c>).</summary>
    public sealed record Template(string Type, string Title, string Body);

    public static readonly IReadOnlyDictionary<string, Template> Templates = new Dictionary<string, Template>
    {
        ["treatment-de"] = new("treatment", "Einwilligung in die Behandlung",
            "Ich wurde über Art, Umfang, Durchführung, zu erwartende Folgen und Risiken der Maßnahme sowie über Alternativen "
            + "aufgeklärt (§ 630e BGB). Meine Fragen wurden beantwortet. Ich willige in die Behandlung ein."),
        ["photo-de"] = new("photo", "Einwilligung in die Fotodokumentation",
            "Ich willige ein, dass die Praxis Fotos zur Dokumentation meiner Behandlung anfertigt und verschlüsselt speichert. "
            + "Die Einwilligung kann ich jederzeit mit Wirkung für die Zukunft widerrufen."),
        ["data-processing-de"] = new("data_processing", "Einwilligung in die Datenverarbeitung",
            "Ich willige in die Verarbeitung meiner Gesundheitsdaten zu den genannten Zwecken ein (Art. 9 Abs. 2 lit. a DSGVO). "
            + "Die Einwilligung ist freiwillig und jederzeit widerrufbar."),
        ["treatment-en"] = new("treatment", "Consent to treatment",
            "I was informed about the nature, extent, course, expected consequences and risks of the treatment and its "
            + "alternatives. My questions were answered. I consent to the treatment."),
    };

    /// <summary>The protected header of a JWE that passed the form check.</summary>
    public sealed record Envelope(string Alg, string Kid);

    /// <summary>
    /// Checks the form of a JWE compact serialization (RFC 7516 §7.1): five base64url parts, a
    /// protected header naming an allowed <c>alg</c>, <c>enc</c> A256GCM and a <c>kid</c>, an
    /// encrypted key, a 96-bit IV, a ciphertext and a 128-bit tag. Nothing is decrypted.
    /// </summary>
    public static (Envelope? Envelope, string? Error) CheckEnvelope(string jwe)
    {
        ArgumentNullException.ThrowIfNull(jwe);
        var parts = jwe.Split('.');
        if (parts.Length != 5)
        {
            return (null, "A JWE compact serialization has five parts separated by dots.");
        }

        if (parts.Any(p => p.Length == 0 || !SettingsRules.IsBase64Url(p)))
        {
            return (null, "Every part of the JWE must be non-empty base64url without padding.");
        }

        JsonElement header;
        try
        {
            header = JsonSerializer.Deserialize<JsonElement>(Encoding.UTF8.GetString(Base64UrlEncoder.DecodeBytes(parts[0])));
        }
        catch (Exception e) when (e is JsonException or FormatException or ArgumentException)
        {
            return (null, "The protected header is not base64url JSON.");
        }

        if (header.ValueKind != JsonValueKind.Object)
        {
            return (null, "The protected header must be a JSON object.");
        }

        var alg = Member(header, "alg");
        if (alg is not (SettingsRules.EcdhAlg or SettingsRules.RsaAlg))
        {
            return (null, $"alg must be {SettingsRules.EcdhAlg} or {SettingsRules.RsaAlg}.");
        }

        if (Member(header, "enc") != "A256GCM")
        {
            return (null, "enc must be A256GCM.");
        }

        if (Member(header, "kid") is not { Length: > 0 } kid)
        {
            return (null, "The protected header must name the practice key (kid).");
        }

        if (alg == SettingsRules.EcdhAlg
            && (!header.TryGetProperty("epk", out var epk) || epk.ValueKind != JsonValueKind.Object
                || Member(epk, "kty") != "EC" || Member(epk, "crv") != "P-256"))
        {
            return (null, "ECDH-ES+A256KW needs an ephemeral P-256 public key (epk) in the header.");
        }

        if (DecodedLength(parts[2]) != 12)
        {
            return (null, "A256GCM needs a 96-bit initialization vector.");
        }

        if (DecodedLength(parts[4]) != 16)
        {
            return (null, "A256GCM needs a 128-bit authentication tag.");
        }

        return (new Envelope(alg, kid), null);
    }

    private static int DecodedLength(string base64Url) => base64Url.Length * 6 / 8;

    private static string? Member(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
