using System.Net;
using System.Text;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Consent;
using ClinicFlow.Tests.Patients;
using ClinicFlow.Tests.Support;
using Microsoft.IdentityModel.Tokens;

namespace ClinicFlow.Tests.Consent;

public sealed class SubmitConsentFormTests(AppFixture app) : ApiTest(app)
{
    [Fact]
    public async Task Stores_an_ecdh_envelope_byte_for_byte_with_ip_user_agent_and_retention()
    {
        var admin = await RegisterClinicAsync(country: "DE");
        using var key = PracticeKey.NewEc();
        var (_, form) = await Host.PatientWithFormAsync(admin, key);
        var answers = ConsentTestData.Answers("Jürgen Müller");
        var jwe = key.Encrypt(answers);
        var signedAt = DateTimeOffset.UtcNow.AddMinutes(-1);

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new SubmitConsentForm.Request(jwe, signedAt)).ToUrl($"/api/consent/{form.Token}/submit");
            s.WithRequestHeader("User-Agent", "Mozilla/5.0 (iPhone) ConsentTest");
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });

        var submitted = await result.ReadAsJsonAsync<SubmitConsentForm.Response>();
        Assert.Equal("submitted", submitted.Status);
        var row = (await App.QueryAsync<(string Payload, DateTimeOffset SignedAt, DateTimeOffset SubmittedAt, string Ip, string Ua, DateTimeOffset RetainUntil)>("""
            select encrypted_payload, signed_at, submitted_at, submitter_ip, submitter_user_agent, retain_until
            from consent_forms where id = @Id
            """, new { form.Id })).Single();
        Assert.Equal(jwe, row.Payload);
        Assert.Equal(signedAt.ToUnixTimeMilliseconds(), row.SignedAt.ToUnixTimeMilliseconds());
        Assert.False(string.IsNullOrEmpty(row.Ip));
        Assert.Equal("Mozilla/5.0 (iPhone) ConsentTest", row.Ua);
        Assert.Equal(TimeSpan.FromDays(3653), row.RetainUntil - row.SubmittedAt);
        Assert.Equal(answers, key.Decrypt(row.Payload));
        using var stranger = PracticeKey.NewEc(key.Kid);
        Assert.ThrowsAny<Exception>(() => stranger.Decrypt(row.Payload));

        var audit = await LastAuditAsync(admin.ClinicId!.Value, "consent.submit");
        Assert.Equal("public", audit!.ActorType);
        Assert.DoesNotContain(jwe.Split('.')[3], audit.Changes, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stores_an_rsa_oaep_256_envelope_and_uses_the_practices_retention_days()
    {
        var admin = await RegisterClinicAsync();
        using var key = PracticeKey.NewRsa();
        await Host.PublishKeyAsync(admin, key);
        await Host.Scenario(s =>
        {
            s.Patch.Json(new { retentionDays = 4000 }).ToUrl("/api/settings");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        var patient = await Host.AddPatientAsync(admin);
        var form = await Host.CreateFormAsync(admin, patient.Id);
        var jwe = key.Encrypt(ConsentTestData.Answers());

        await Host.SubmitAsync(form.Token, jwe);

        var stored = await App.ScalarAsync<string>("select encrypted_payload from consent_forms where id = @Id", new { form.Id });
        Assert.Equal(jwe, stored);
        Assert.Equal(ConsentTestData.Answers(), key.Decrypt(stored));
        Assert.Equal(4000, await App.ScalarAsync<int>("select extract(day from retain_until - submitted_at)::int from consent_forms where id = @Id", new { form.Id }));
    }

    [Fact]
    public async Task A_second_submit_is_409_and_keeps_the_first_envelope()
    {
        var admin = await RegisterClinicAsync();
        using var key = PracticeKey.NewEc();
        var (_, form) = await Host.PatientWithFormAsync(admin, key);
        var first = key.Encrypt("{\"consent\":true}");
        await Host.SubmitAsync(form.Token, first);

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new { encryptedPayload = key.Encrypt("{\"consent\":false}"), signedAt = DateTimeOffset.UtcNow }).ToUrl($"/api/consent/{form.Token}/submit");
            s.StatusCodeShouldBe(HttpStatusCode.Conflict);
        });

        await ErrorAsync(result, ErrorCodes.Conflict);
        Assert.Equal(first, await App.ScalarAsync<string>("select encrypted_payload from consent_forms where id = @Id", new { form.Id }));
    }

    [Fact]
    public async Task Answers_410_for_an_expired_link_and_404_for_an_unknown_one()
    {
        var admin = await RegisterClinicAsync();
        using var key = PracticeKey.NewEc();
        var (_, form) = await Host.PatientWithFormAsync(admin, key);
        await App.ExecuteAsync("update consent_forms set expires_at = now() - interval '1 second' where id = @Id", new { form.Id });

        var expired = await Host.Scenario(s =>
        {
            s.Post.Json(new { encryptedPayload = key.Encrypt("{}"), signedAt = DateTimeOffset.UtcNow }).ToUrl($"/api/consent/{form.Token}/submit");
            s.StatusCodeShouldBe(HttpStatusCode.Gone);
        });
        await ErrorAsync(expired, ErrorCodes.LinkExpired);

        var unknown = await Host.Scenario(s =>
        {
            s.Post.Json(new { encryptedPayload = key.Encrypt("{}"), signedAt = DateTimeOffset.UtcNow }).ToUrl("/api/consent/unknown-token/submit");
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });
        await ErrorAsync(unknown, ErrorCodes.NotFound);
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from consent_forms where id = @Id and submitted_at is not null", new { form.Id }));
    }

    [Fact]
    public async Task Refuses_an_envelope_over_512_kb_with_413()
    {
        var admin = await RegisterClinicAsync();
        using var key = PracticeKey.NewEc();
        var (_, form) = await Host.PatientWithFormAsync(admin, key);
        var jwe = key.Encrypt(new string('x', 400 * 1024));
        Assert.True(jwe.Length > ConsentRules.MaxEnvelopeChars);

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new { encryptedPayload = jwe, signedAt = DateTimeOffset.UtcNow }).ToUrl($"/api/consent/{form.Token}/submit");
            s.StatusCodeShouldBe(HttpStatusCode.RequestEntityTooLarge);
        });

        await ErrorAsync(result, ErrorCodes.PayloadTooLarge);
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from consent_forms where id = @Id and submitted_at is not null", new { form.Id }));
    }

    [Fact]
    public async Task Accepts_an_envelope_just_under_the_limit()
    {
        var admin = await RegisterClinicAsync();
        using var key = PracticeKey.NewEc();
        var (_, form) = await Host.PatientWithFormAsync(admin, key);
        var jwe = key.Encrypt(new string('x', 380 * 1024));
        Assert.True(jwe.Length <= ConsentRules.MaxEnvelopeChars);

        await Host.SubmitAsync(form.Token, jwe);

        Assert.Equal(jwe.Length, await App.ScalarAsync<int>("select length(encrypted_payload) from consent_forms where id = @Id", new { form.Id }));
    }

    public static TheoryData<string> BadEnvelopes() =>
        ["four-parts", "alg-dir", "alg-rsa1_5", "enc-cbc", "unknown-kid", "no-kid", "header-not-json", "padding", "short-tag", "wrong-alg-for-key"];

    [Theory]
    [MemberData(nameof(BadEnvelopes))]
    public async Task Rejects_an_envelope_of_the_wrong_form_with_details(string kind)
    {
        var admin = await RegisterClinicAsync();
        using var key = PracticeKey.NewEc();
        var (_, form) = await Host.PatientWithFormAsync(admin, key);
        var good = key.Encrypt("{}").Split('.');
        string WithHeader(object header) =>
            string.Join('.', [Base64UrlEncoder.Encode(System.Text.Json.JsonSerializer.Serialize(header)), .. good[1..]]);
        var jwe = kind switch
        {
            "four-parts" => string.Join('.', good[..4]),
            "alg-dir" => WithHeader(new { alg = "dir", enc = "A256GCM", kid = key.Kid }),
            "alg-rsa1_5" => WithHeader(new { alg = "RSA1_5", enc = "A256GCM", kid = key.Kid }),
            "enc-cbc" => WithHeader(new { alg = "ECDH-ES+A256KW", enc = "A128CBC-HS256", kid = key.Kid, epk = new { kty = "EC", crv = "P-256", x = "AA", y = "AA" } }),
            "unknown-kid" => key.Encrypt("{}", "someone-elses-key"),
            "no-kid" => WithHeader(new { alg = "ECDH-ES+A256KW", enc = "A256GCM", epk = new { kty = "EC", crv = "P-256", x = "AA", y = "AA" } }),
            "header-not-json" => string.Join('.', [Base64UrlEncoder.Encode("not json"), .. good[1..]]),
            "padding" => string.Join('.', good) + "=",
            "short-tag" => string.Join('.', [.. good[..4], Base64UrlEncoder.Encode(new byte[8])]),
            _ => WithHeader(new { alg = "RSA-OAEP-256", enc = "A256GCM", kid = key.Kid }),
        };

        await AssertInvalidAsync("encryptedPayload", s =>
            s.Post.Json(new { encryptedPayload = jwe, signedAt = DateTimeOffset.UtcNow }).ToUrl($"/api/consent/{form.Token}/submit"));
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from consent_forms where id = @Id and submitted_at is not null", new { form.Id }));
    }

    [Fact]
    public async Task Rejects_missing_fields_and_a_signing_time_in_the_future_with_details()
    {
        var admin = await RegisterClinicAsync();
        using var key = PracticeKey.NewEc();
        var (_, form) = await Host.PatientWithFormAsync(admin, key);

        var error = await AssertInvalidAsync("encryptedPayload", s => s.Post.Json(new { }).ToUrl($"/api/consent/{form.Token}/submit"));
        Assert.Contains("signedAt", error.Details!.Keys);
        await AssertInvalidAsync("signedAt", s =>
            s.Post.Json(new { encryptedPayload = key.Encrypt("{}"), signedAt = DateTimeOffset.UtcNow.AddHours(2) }).ToUrl($"/api/consent/{form.Token}/submit"));
        Assert.Equal(Encoding.UTF8.GetBytes("pending"), Encoding.UTF8.GetBytes(await App.ScalarAsync<string>(
            $"select {ConsentRules.StatusSql} from consent_forms f where id = @Id", new { form.Id })));
    }
}
