using System.Net;
using System.Numerics;
using System.Security.Cryptography;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Settings;
using ClinicFlow.Tests.Consent;
using ClinicFlow.Tests.Patients;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Settings;

public sealed class UpdateSettingsTests(AppFixture app) : ApiTest(app)
{
    [Fact]
    public async Task Saves_the_settings_and_publishes_the_key_with_an_audit_entry()
    {
        var admin = await RegisterClinicAsync(country: "DE");
        using var key = PracticeKey.NewEc();

        var result = await Host.Scenario(s =>
        {
            s.Patch.Json(new
            {
                publicKey = key.PublicJwk(),
                brandColor = "#1A2B3C",
                consentExpiryDays = 14,
                retentionDays = 4000,
                gdtSenderId = "CFLOW1",
                gdtReceiverId = "PVS01",
            }).ToUrl("/api/settings");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var settings = await result.ReadAsJsonAsync<UpdateSettings.Response>();
        Assert.Equal("#1a2b3c", settings.BrandColor);
        Assert.Equal(14, settings.ConsentExpiryDays);
        Assert.Equal(4000, settings.RetentionDays);
        Assert.Equal("CFLOW1", settings.GdtSenderId);
        Assert.Equal("PVS01", settings.GdtReceiverId);
        Assert.Equal(key.Kid, settings.PublicKey!.Value.GetProperty("kid").GetString());
        Assert.Equal("ECDH-ES+A256KW", settings.PublicKey.Value.GetProperty("alg").GetString());

        var row = (await App.QueryAsync<(int Days, int Retention, string Color)>(
            "select consent_expiry_days, retention_days, brand_color from practice_settings where clinic_id = @ClinicId", new { admin.ClinicId })).Single();
        Assert.Equal((14, 4000, "#1a2b3c"), row);
        var stored = await App.ScalarAsync<string>("select jwk::text from practice_keys where clinic_id = @ClinicId and kid = @Kid", new { admin.ClinicId, key.Kid });
        Assert.Contains(PracticeKey.B64(key.Ec!.ExportParameters(false).Q.X!), stored, StringComparison.Ordinal);
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "settings.update");
        Assert.Contains("publicKey", audit!.Changes, StringComparison.Ordinal);
        Assert.Contains("retentionDays", audit.Changes, StringComparison.Ordinal);
        Assert.Contains(key.Kid, audit.Changes, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_patch_that_changes_nothing_writes_no_audit_entry_and_empty_text_clears()
    {
        var admin = await RegisterClinicAsync();
        await Patch(admin, new { brandColor = "#aabbcc", gdtSenderId = "A1" }, HttpStatusCode.OK);
        var before = await App.ScalarAsync<int>("select count(*)::int from audit_log where clinic_id = @ClinicId and action = 'settings.update'", new { admin.ClinicId });

        await Patch(admin, new { brandColor = "#AABBCC" }, HttpStatusCode.OK);
        Assert.Equal(before, await App.ScalarAsync<int>("select count(*)::int from audit_log where clinic_id = @ClinicId and action = 'settings.update'", new { admin.ClinicId }));

        var result = await Patch(admin, new { brandColor = "", gdtSenderId = "" }, HttpStatusCode.OK);
        var settings = await result.ReadAsJsonAsync<UpdateSettings.Response>();
        Assert.Null(settings.BrandColor);
        Assert.Null(settings.GdtSenderId);
    }

    [Fact]
    public async Task Replacing_the_key_keeps_the_old_one_so_forms_sent_under_it_stay_submittable()
    {
        var admin = await RegisterClinicAsync();
        using var oldKey = PracticeKey.NewEc();
        using var newKey = PracticeKey.NewRsa();
        await Host.PublishKeyAsync(admin, oldKey);
        var patient = await Host.AddPatientAsync(admin);
        var sentBefore = await Host.CreateFormAsync(admin, patient.Id);

        await Host.PublishKeyAsync(admin, newKey);
        var sentAfter = await Host.CreateFormAsync(admin, patient.Id);

        Assert.Equal(oldKey.Kid, sentBefore.Kid);
        Assert.Equal(newKey.Kid, sentAfter.Kid);
        Assert.Equal(2, await App.ScalarAsync<int>("select count(*)::int from practice_keys where clinic_id = @ClinicId", new { admin.ClinicId }));
        await Host.SubmitAsync(sentBefore.Token, oldKey.Encrypt(ConsentTestData.Answers()));
        await Host.SubmitAsync(sentAfter.Token, newKey.Encrypt(ConsentTestData.Answers()));
        Assert.Equal(2, await App.ScalarAsync<int>("select count(*)::int from consent_forms where clinic_id = @ClinicId and submitted_at is not null", new { admin.ClinicId }));
    }

    [Fact]
    public async Task Refuses_a_kid_that_already_names_another_key()
    {
        var admin = await RegisterClinicAsync();
        using var first = PracticeKey.NewEc("practice-1");
        using var impostor = PracticeKey.NewEc("practice-1");
        await Host.PublishKeyAsync(admin, first);

        var result = await Patch(admin, new { publicKey = impostor.PublicJwk() }, HttpStatusCode.Conflict);

        await ErrorAsync(result, ErrorCodes.AlreadyExists);
        var stored = await App.ScalarAsync<string>("select jwk->>'x' from practice_keys where clinic_id = @ClinicId", new { admin.ClinicId });
        Assert.Equal(first.PublicJwk()["x"], stored);
    }

    public static TheoryData<string> RefusedKeys() =>
    [
        "ec-private", "rsa-private", "p384", "rsa-1024", "off-curve", "short-x", "oct", "no-kid", "wrong-alg", "not-object", "bad-base64",
    ];

    [Theory]
    [MemberData(nameof(RefusedKeys))]
    public async Task Refuses_a_key_that_is_not_a_public_p256_or_rsa_2048_jwk(string kind)
    {
        var admin = await RegisterClinicAsync();
        using var ec = PracticeKey.NewEc();
        object jwk = kind switch
        {
            "ec-private" => With(ec.PublicJwk(), "d", PracticeKey.B64(ec.Ec!.ExportParameters(true).D!)),
            "rsa-private" => RsaPrivate(),
            "p384" => P384(),
            "rsa-1024" => RsaPublic(1024),
            "off-curve" => With(ec.PublicJwk(), "y", PracticeKey.B64(OffCurveY(ec))),
            "short-x" => With(ec.PublicJwk(), "x", PracticeKey.B64(new byte[31])),
            "oct" => new Dictionary<string, object> { ["kty"] = "oct", ["k"] = PracticeKey.B64(new byte[32]), ["kid"] = "sym" },
            "no-kid" => Without(ec.PublicJwk(), "kid"),
            "wrong-alg" => With(ec.PublicJwk(), "alg", "RSA-OAEP-256"),
            "not-object" => "just a string",
            _ => With(ec.PublicJwk(), "x", "not base64url!"),
        };

        await AssertInvalidAsync("publicKey", s =>
        {
            s.Patch.Json(new { publicKey = jwk }).ToUrl("/api/settings");
            s.WithBearerToken(admin.Token);
        });
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from practice_keys where clinic_id = @ClinicId", new { admin.ClinicId }));
    }

    [Fact]
    public async Task Accepts_an_rsa_key_of_2048_bits()
    {
        var admin = await RegisterClinicAsync();
        using var rsa = PracticeKey.NewRsa();

        var result = await Patch(admin, new { publicKey = rsa.PublicJwk() }, HttpStatusCode.OK);

        var settings = await result.ReadAsJsonAsync<UpdateSettings.Response>();
        Assert.Equal("RSA-OAEP-256", settings.PublicKey!.Value.GetProperty("alg").GetString());
        Assert.Equal("RSA-OAEP-256", await App.ScalarAsync<string>("select alg from practice_keys where clinic_id = @ClinicId", new { admin.ClinicId }));
    }

    [Fact]
    public async Task Rejects_bad_values_with_details()
    {
        var admin = await RegisterClinicAsync();

        var result = await Patch(admin, new { brandColor = "red", consentExpiryDays = 0, retentionDays = 3650, gdtSenderId = "TOOLONGID9" },
            HttpStatusCode.BadRequest);

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Contains("brandColor", error.Details!.Keys);
        Assert.Contains("consentExpiryDays", error.Details.Keys);
        Assert.Contains("retentionDays", error.Details.Keys);
        Assert.Contains("gdtSenderId", error.Details.Keys);
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from practice_settings where clinic_id = @ClinicId", new { admin.ClinicId }));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Patch.Json(new { brandColor = "#000000" }).ToUrl("/api/settings"));
    }

    [Theory]
    [InlineData("doctor")]
    [InlineData("staff")]
    public async Task Refuses_non_admins(string role)
    {
        await AssertRefusedForRoleAsync(role, s => s.Patch.Json(new { brandColor = "#000000" }).ToUrl("/api/settings"));
    }

    private Task<IScenarioResult> Patch(Account admin, object body, HttpStatusCode status) =>
        Host.Scenario(s =>
        {
            s.Patch.Json(body).ToUrl("/api/settings");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(status);
        });

    private static Dictionary<string, object> With(Dictionary<string, object> jwk, string name, object value)
    {
        jwk[name] = value;
        return jwk;
    }

    private static Dictionary<string, object> Without(Dictionary<string, object> jwk, string name)
    {
        jwk.Remove(name);
        return jwk;
    }

    private static Dictionary<string, object> RsaPrivate()
    {
        using var rsa = RSA.Create(2048);
        var p = rsa.ExportParameters(true);
        return new()
        {
            ["kty"] = "RSA", ["n"] = PracticeKey.B64(p.Modulus!), ["e"] = PracticeKey.B64(p.Exponent!), ["kid"] = "rsa-priv",
            ["d"] = PracticeKey.B64(p.D!), ["p"] = PracticeKey.B64(p.P!), ["q"] = PracticeKey.B64(p.Q!),
        };
    }

    private static Dictionary<string, object> RsaPublic(int bits)
    {
        using var rsa = RSA.Create(bits);
        var p = rsa.ExportParameters(false);
        return new() { ["kty"] = "RSA", ["n"] = PracticeKey.B64(p.Modulus!), ["e"] = PracticeKey.B64(p.Exponent!), ["kid"] = "rsa-short" };
    }

    private static Dictionary<string, object> P384()
    {
        using var ec = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP384);
        var p = ec.ExportParameters(false);
        return new() { ["kty"] = "EC", ["crv"] = "P-384", ["x"] = PracticeKey.B64(p.Q.X!), ["y"] = PracticeKey.B64(p.Q.Y!), ["kid"] = "p384" };
    }

    // y + 1 keeps the coordinate 32 bytes long but moves the point off the curve.
    private static byte[] OffCurveY(PracticeKey key)
    {
        var y = new BigInteger(key.Ec!.ExportParameters(false).Q.Y!, isUnsigned: true, isBigEndian: true) + 1;
        var bytes = y.ToByteArray(isUnsigned: true, isBigEndian: true);
        return bytes.Length == 32 ? bytes : new byte[32 - bytes.Length].Concat(bytes).ToArray();
    }
}
