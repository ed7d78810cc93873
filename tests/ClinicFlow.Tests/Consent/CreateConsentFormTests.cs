using System.Net;
using System.Security.Cryptography;
using System.Text;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Consent;
using ClinicFlow.Tests.Patients;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Consent;

public sealed class CreateConsentFormTests(AppFixture app) : ApiTest(app)
{
    [Fact]
    public async Task A_doctor_creates_a_form_whose_token_is_stored_only_hashed_and_sealed()
    {
        var admin = await RegisterClinicAsync(country: "DE");
        var doctor = await AddUserAsync(admin, "doctor");
        using var key = PracticeKey.NewEc();
        await Host.PublishKeyAsync(admin, key);
        var patient = await Host.AddPatientAsync(admin);

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new CreateConsentForm.Request(patient.Id, "treatment", "Aufklärung Wurzelbehandlung", "Text der Aufklärung", null, null))
                .ToUrl("/api/consent");
            s.WithBearerToken(doctor.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });

        var form = await result.ReadAsJsonAsync<CreateConsentForm.Response>();
        Assert.True(Convert.FromBase64String(Pad(form.Token)).Length >= 16);
        Assert.Equal($"{AppFixture.PublicBaseUrl}/consent/{form.Token}", form.Url);
        Assert.Equal("pending", form.Status);
        Assert.Equal(key.Kid, form.Kid);
        Assert.InRange(form.ExpiresAt - form.CreatedAt, TimeSpan.FromDays(7) - TimeSpan.FromMinutes(1), TimeSpan.FromDays(7) + TimeSpan.FromMinutes(1));

        var row = (await App.QueryAsync<(byte[] Hash, string Sealed, Guid PatientId, Guid CreatedBy)>(
            "select token_hash, token_sealed, patient_id, created_by from consent_forms where id = @Id", new { form.Id })).Single();
        Assert.Equal(SHA256.HashData(Encoding.UTF8.GetBytes(form.Token)), row.Hash);
        Assert.DoesNotContain(form.Token, row.Sealed, StringComparison.Ordinal);
        Assert.Equal(patient.Id, row.PatientId);
        Assert.Equal(doctor.UserId, row.CreatedBy);
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "consent.create");
        Assert.Equal(form.Id.ToString(), audit!.EntityId);
        Assert.DoesNotContain("Wurzelbehandlung", audit.Changes, StringComparison.Ordinal);
        Assert.DoesNotContain(form.Token, audit.Changes, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Starts_from_a_template_and_the_practices_default_expiry()
    {
        var admin = await RegisterClinicAsync();
        using var key = PracticeKey.NewEc();
        await Host.PublishKeyAsync(admin, key);
        await Host.Scenario(s =>
        {
            s.Patch.Json(new { consentExpiryDays = 3 }).ToUrl("/api/settings");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        var patient = await Host.AddPatientAsync(admin);

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new { patientId = patient.Id, templateId = "photo-de" }).ToUrl("/api/consent");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });

        var form = await result.ReadAsJsonAsync<CreateConsentForm.Response>();
        Assert.Equal("photo", form.Type);
        Assert.Equal(ConsentRules.Templates["photo-de"].Title, form.Title);
        Assert.Equal(ConsentRules.Templates["photo-de"].Body, form.Body);
        Assert.InRange(form.ExpiresAt - form.CreatedAt, TimeSpan.FromDays(3) - TimeSpan.FromMinutes(1), TimeSpan.FromDays(3) + TimeSpan.FromMinutes(1));
        Assert.Equal("photo-de", await App.ScalarAsync<string>("select template_id from consent_forms where id = @Id", new { form.Id }));
    }

    [Fact]
    public async Task Refuses_with_409_until_the_practice_published_its_public_key()
    {
        var admin = await RegisterClinicAsync();
        var patient = await Host.AddPatientAsync(admin);

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new { patientId = patient.Id, type = "treatment", title = "T", body = "B" }).ToUrl("/api/consent");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Conflict);
        });

        await ErrorAsync(result, ErrorCodes.Conflict);
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from consent_forms where clinic_id = @ClinicId", new { admin.ClinicId }));
    }

    [Fact]
    public async Task Answers_404_for_another_clinics_patient_and_creates_nothing()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync();
        using var key = PracticeKey.NewEc();
        await Host.PublishKeyAsync(admin, key);
        var foreign = await Host.AddPatientAsync(other);

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new { patientId = foreign.Id, type = "treatment", title = "T", body = "B" }).ToUrl("/api/consent");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });

        await ErrorAsync(result, ErrorCodes.NotFound);
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from consent_forms where patient_id = @Id", new { foreign.Id }));
    }

    [Fact]
    public async Task Rejects_bad_input_with_details()
    {
        var admin = await RegisterClinicAsync();

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new { type = "Not A Type", title = "", body = "text", templateId = "treatment-de", expiresInDays = 400 }).ToUrl("/api/consent");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.BadRequest);
        });

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Contains("patientId", error.Details!.Keys);
        Assert.Contains("type", error.Details.Keys);
        Assert.Contains("body", error.Details.Keys);
        Assert.Contains("expiresInDays", error.Details.Keys);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Post.Json(new { patientId = Guid.NewGuid(), type = "treatment", title = "T", body = "B" }).ToUrl("/api/consent"));
    }

    [Fact]
    public async Task Refuses_reception_staff()
    {
        await AssertRefusedForRoleAsync("staff", s => s.Post.Json(new { patientId = Guid.NewGuid(), type = "treatment", title = "T", body = "B" }).ToUrl("/api/consent"));
    }

    private static string Pad(string base64Url)
    {
        var s = base64Url.Replace('-', '+').Replace('_', '/');
        return s + new string('=', (4 - (s.Length % 4)) % 4);
    }
}
