using System.Numerics;
using System.Text.Json;
using System.Text.Json.Nodes;
using ClinicFlow.Infrastructure;
using Microsoft.IdentityModel.Tokens;

namespace ClinicFlow.Slices.Settings;

/// <summary>
/// The practice's settings as the consent, GDT and retention features read them, and the rules of
/// its public encryption key (a JWK whose private half never reaches the server).
/// </summary>
public static class SettingsRules
{
    public const int DefaultConsentExpiryDays = 7;

    /// <summary>Ten years (§ 630f BGB) in days, counting the three leap days a ten-year span can hold.</summary>
    public const int MinRetentionDays = 3653;

    public const int MaxRetentionDays = 36525;

    public const string EcdhAlg = "ECDH-ES+A256KW";

    public const string RsaAlg = "RSA-OAEP-256";

    public const int MinRsaBits = 2048;

    public const int MaxRsaBits = 8192;

    /// <summary>The settings a feature needs; defaults when the practice never saved any.</summary>
    public sealed record Effective(int ConsentExpiryDays, int RetentionDays, string? GdtSenderId, string? GdtReceiverId);

    public const string EffectiveSql = """
        select coalesce(s.consent_expiry_days, 7) as consent_expiry_days,
               coalesce(s.retention_days, 3653) as retention_days,
               s.gdt_sender_id, s.gdt_receiver_id
        from clinics c
        left join practice_settings s on s.clinic_id = c.id
        where c.id = @ClinicId
        """;

    public static Task<Effective> ReadAsync(DbScope scope, Guid clinicId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(scope);
        return scope.QuerySingleAsync<Effective>(EffectiveSql, new { ClinicId = clinicId }, ct);
    }

    /// <summary>The public URL of a practice's logo; the version makes caches fetch a replaced one.</summary>
    public static string LogoUrl(HttpContext http, Guid clinicId, string etag) =>
        http.PublicUrl($"/api/public/clinics/{clinicId}/logo?v={etag}");

    private static readonly string[] PrivateMembers = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

    // NIST P-256 (FIPS 186-4 D.1.2.3): y² = x³ − 3x + b over the prime field p.
    private static readonly BigInteger P256Prime = BigInteger.Parse(
        "115792089210356248762697446949407573530086143415290314195533631308867097853951", System.Globalization.CultureInfo.InvariantCulture);

    private static readonly BigInteger P256B = BigInteger.Parse(
        "41058363725152142129326129780047268409114441015993725554835256314039467401291", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A checked public key: its id, the JWE algorithm it serves and the JWK as stored and published.</summary>
    public sealed record PublicKey(string Kid, string Alg, string Jwk);

    /// <summary>
    /// Checks a JWK for a practice key: a <c>kid</c>; EC P-256 with a point on the curve, or RSA of
    /// 2048 bits or more; no private member; <c>alg</c> and <c>use</c>, when present, must fit. The
    /// stored JWK keeps the public members only.
    /// </summary>
    public static (PublicKey? Key, string? Error) ValidateJwk(JsonElement jwk)
    {
        if (jwk.ValueKind != JsonValueKind.Object)
        {
            return (null, "The public key must be a JWK object.");
        }

        foreach (var member in PrivateMembers)
        {
            if (jwk.TryGetProperty(member, out _))
            {
                return (null, $"The JWK holds the private member '{member}': send the public key only, the private key never leaves the device.");
            }
        }

        if (Member(jwk, "kid") is not { Length: > 0 and <= 100 } kid || kid.Trim() != kid)
        {
            return (null, "The JWK needs a kid of 1 to 100 characters.");
        }

        if (Member(jwk, "use") is { } use && use != "enc")
        {
            return (null, "The key's use must be enc.");
        }

        var alg = Member(jwk, "alg");
        switch (Member(jwk, "kty"))
        {
            case "EC":
            {
                if (alg is not null && alg != EcdhAlg)
                {
                    return (null, $"An EC key serves {EcdhAlg}.");
                }

                if (Member(jwk, "crv") != "P-256")
                {
                    return (null, "Only the P-256 curve is accepted.");
                }

                var x = Coordinate(jwk, "x");
                var y = Coordinate(jwk, "y");
                if (x is null || y is null)
                {
                    return (null, "x and y must be 32-byte base64url coordinates.");
                }

                if (!OnP256(x, y))
                {
                    return (null, "The point (x, y) is not on the P-256 curve.");
                }

                var stored = new JsonObject
                {
                    ["kty"] = "EC", ["crv"] = "P-256", ["x"] = Member(jwk, "x"), ["y"] = Member(jwk, "y"),
                    ["kid"] = kid, ["alg"] = EcdhAlg, ["use"] = "enc",
                };
                return (new PublicKey(kid, EcdhAlg, stored.ToJsonString()), null);
            }

            case "RSA":
            {
                if (alg is not null && alg != RsaAlg)
                {
                    return (null, $"An RSA key serves {RsaAlg}.");
                }

                var n = Bytes(jwk, "n");
                var e = Bytes(jwk, "e");
                if (n is null || e is null || e.Length is 0 or > 8)
                {
                    return (null, "n and e must be base64url integers.");
                }

                var modulus = new BigInteger(n, isUnsigned: true, isBigEndian: true);
                var exponent = new BigInteger(e, isUnsigned: true, isBigEndian: true);
                var bits = modulus.IsZero ? 0 : (int)modulus.GetBitLength();
                if (bits < MinRsaBits || bits > MaxRsaBits)
                {
                    return (null, $"An RSA key needs {MinRsaBits} to {MaxRsaBits} bits; this one has {bits}.");
                }

                if (modulus.IsEven || exponent < 3 || exponent.IsEven)
                {
                    return (null, "The RSA modulus and exponent must be odd, the exponent at least 3.");
                }

                var stored = new JsonObject
                {
                    ["kty"] = "RSA", ["n"] = Member(jwk, "n"), ["e"] = Member(jwk, "e"),
                    ["kid"] = kid, ["alg"] = RsaAlg, ["use"] = "enc",
                };
                return (new PublicKey(kid, RsaAlg, stored.ToJsonString()), null);
            }

            default:
                return (null, "Use an EC (P-256) or RSA key.");
        }
    }

    private static string? Member(JsonElement jwk, string name) =>
        jwk.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static byte[]? Bytes(JsonElement jwk, string name)
    {
        if (Member(jwk, name) is not { Length: > 0 } text || !IsBase64Url(text))
        {
            return null;
        }

        try
        {
            return Base64UrlEncoder.DecodeBytes(text);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static byte[]? Coordinate(JsonElement jwk, string name) => Bytes(jwk, name) is { Length: 32 } bytes ? bytes : null;

    public static bool IsBase64Url(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        foreach (var c in text)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            {
                return false;
            }
        }

        return text.Length % 4 != 1;
    }

    private static bool OnP256(byte[] xBytes, byte[] yBytes)
    {
        var x = new BigInteger(xBytes, isUnsigned: true, isBigEndian: true);
        var y = new BigInteger(yBytes, isUnsigned: true, isBigEndian: true);
        if (x >= P256Prime || y >= P256Prime)
        {
            return false;
        }

        var left = BigInteger.ModPow(y, 2, P256Prime);
        var right = (BigInteger.ModPow(x, 3, P256Prime) - (3 * x) + P256B) % P256Prime;
        if (right.Sign < 0)
        {
            right += P256Prime;
        }

        return left == right;
    }
}

/// <summary>The stored settings of a practice with its current key and logo version, as the settings slices read them.</summary>
public sealed record SettingsRow(int ConsentExpiryDays, int RetentionDays, string? BrandColor, string? GdtSenderId,
    string? GdtReceiverId, string? PublicKey, string? LogoEtag)
{
    public const string Sql = """
        select coalesce(s.consent_expiry_days, 7) as consent_expiry_days,
               coalesce(s.retention_days, 3653) as retention_days,
               s.brand_color, s.gdt_sender_id, s.gdt_receiver_id,
               k.jwk::text as public_key, l.etag as logo_etag
        from clinics c
        left join practice_settings s on s.clinic_id = c.id
        left join practice_keys k on k.clinic_id = c.id and k.retired_at is null
        left join practice_logos l on l.clinic_id = c.id
        where c.id = @ClinicId
        """;

    public const string KeysSql = """
        select kid, alg, created_at, retired_at
        from practice_keys
        where clinic_id = @ClinicId
        order by created_at desc, kid
        """;
}
