using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using ClinicFlow.Slices.Consent;
using ClinicFlow.Tests.Patients;
using ClinicFlow.Tests.Support;
using Jose;
using Microsoft.IdentityModel.Tokens;

namespace ClinicFlow.Tests.Consent;

/// <summary>A practice key pair as the app's vault holds it: the private half stays in the test.</summary>
public sealed class PracticeKey : IDisposable
{
    private PracticeKey(string kid, ECDiffieHellman? ec, RSA? rsa)
    {
        Kid = kid;
        Ec = ec;
        Rsa = rsa;
    }

    public string Kid { get; }

    public ECDiffieHellman? Ec { get; }

    public RSA? Rsa { get; }

    public static PracticeKey NewEc(string? kid = null) =>
        new(kid ?? "ec-" + Guid.NewGuid().ToString("N")[..8], ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256), null);

    public static PracticeKey NewRsa(int bits = 2048, string? kid = null) =>
        new(kid ?? "rsa-" + Guid.NewGuid().ToString("N")[..8], null, RSA.Create(bits));

    /// <summary>The public JWK as the app publishes it in the settings.</summary>
    public Dictionary<string, object> PublicJwk()
    {
        if (Ec is not null)
        {
            var p = Ec.ExportParameters(false);
            return new() { ["kty"] = "EC", ["crv"] = "P-256", ["x"] = B64(p.Q.X!), ["y"] = B64(p.Q.Y!), ["kid"] = Kid, ["alg"] = "ECDH-ES+A256KW", ["use"] = "enc" };
        }

        var r = Rsa!.ExportParameters(false);
        return new() { ["kty"] = "RSA", ["n"] = B64(r.Modulus!), ["e"] = B64(r.Exponent!), ["kid"] = Kid, ["alg"] = "RSA-OAEP-256" };
    }

    /// <summary>Encrypts answers in the patient's browser's place, with jose-jwt (an independent JOSE implementation).</summary>
    public string Encrypt(string answers, string? kid = null)
    {
        var headers = new Dictionary<string, object> { ["kid"] = kid ?? Kid };
        return Ec is not null
            ? JWT.Encode(answers, PublicOnlyEc(), JweAlgorithm.ECDH_ES_A256KW, JweEncryption.A256GCM, extraHeaders: headers)
            : JWT.Encode(answers, PublicOnlyRsa(), JweAlgorithm.RSA_OAEP_256, JweEncryption.A256GCM, extraHeaders: headers);
    }

    /// <summary>Decrypts an envelope with the private key, as the practice's app does.</summary>
    public string Decrypt(string jwe) => Ec is not null ? JWT.Decode(jwe, Ec) : JWT.Decode(jwe, Rsa);

    private ECDiffieHellman PublicOnlyEc()
    {
        var key = ECDiffieHellman.Create();
        key.ImportParameters(Ec!.ExportParameters(false));
        return key;
    }

    private RSA PublicOnlyRsa()
    {
        var key = RSA.Create();
        key.ImportParameters(Rsa!.ExportParameters(false));
        return key;
    }

    public static string B64(byte[] bytes) => Base64UrlEncoder.Encode(bytes);

    public void Dispose()
    {
        Ec?.Dispose();
        Rsa?.Dispose();
    }
}

/// <summary>Consent forms for the consent, GDT and analytics tests, made through the real API.</summary>
internal static class ConsentTestData
{
    public static async Task PublishKeyAsync(this IAlbaHost host, Account admin, PracticeKey key)
    {
        await host.Scenario(s =>
        {
            s.Patch.Json(new { publicKey = key.PublicJwk() }).ToUrl("/api/settings");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
    }

    public static async Task<CreateConsentForm.Response> CreateFormAsync(this IAlbaHost host, Account caller, Guid patientId,
        string type = "treatment", string title = "Aufklärung Füllungstherapie", int? expiresInDays = null)
    {
        var result = await host.Scenario(s =>
        {
            s.Post.Json(new { patientId, type, title, body = "Ich willige in die Behandlung ein.", expiresInDays }).ToUrl("/api/consent");
            s.WithBearerToken(caller.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        return await result.ReadAsJsonAsync<CreateConsentForm.Response>();
    }

    /// <summary>A clinic with a published EC key, a patient and one pending form.</summary>
    public static async Task<(Guid PatientId, CreateConsentForm.Response Form)> PatientWithFormAsync(this IAlbaHost host, Account admin,
        PracticeKey key, string type = "treatment")
    {
        await host.PublishKeyAsync(admin, key);
        var patient = await host.AddPatientAsync(admin, new { fullName = "Jürgen Müller-Lüdenscheidt", birthDate = "1970-02-03", gender = "male" });
        var form = await host.CreateFormAsync(admin, patient.Id, type);
        return (patient.Id, form);
    }

    public static async Task<SubmitConsentForm.Response> SubmitAsync(this IAlbaHost host, string token, string jwe, DateTimeOffset? signedAt = null)
    {
        var result = await host.Scenario(s =>
        {
            s.Post.Json(new { encryptedPayload = jwe, signedAt = signedAt ?? DateTimeOffset.UtcNow }).ToUrl($"/api/consent/{token}/submit");
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        return await result.ReadAsJsonAsync<SubmitConsentForm.Response>();
    }

    public static string Answers(string name = "Jürgen") =>
        JsonSerializer.Serialize(new { consent = true, signature = "data:image/png;base64,iVBORw0KGgo=", name });
}
