using System.Net;
using ClinicFlow.Slices.Consent;
using ClinicFlow.Slices.Patients;
using ClinicFlow.Tests.Consent;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Patients;

/// <summary>What <see cref="ErasePatient"/> does to consent forms: open ones go, signed ones stay locked under retention.</summary>
public sealed class ErasePatientConsentTests(AppFixture app) : ApiTest(app)
{
    [Fact]
    public async Task Removes_open_forms_and_keeps_submitted_ones_locked_and_minimised_until_their_retention_ends()
    {
        var admin = await RegisterClinicAsync(country: "DE");
        using var key = PracticeKey.NewEc();
        var (patientId, signed) = await Host.PatientWithFormAsync(admin, key);
        var open = await Host.CreateFormAsync(admin, patientId);
        var jwe = key.Encrypt(ConsentTestData.Answers());
        await Host.SubmitAsync(signed.Token, jwe);

        await Host.Scenario(s =>
        {
            s.Delete.Url($"/api/patients/{patientId}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NoContent);
        });

        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from consent_forms where id = @Id", new { open.Id }));
        var kept = (await App.QueryAsync<(DateTimeOffset? LockedAt, byte[]? TokenHash, string? Ua, string Payload, DateTimeOffset RetainUntil)>(
            "select locked_at, token_hash, submitter_user_agent, encrypted_payload, retain_until from consent_forms where id = @Id", new { signed.Id })).Single();
        Assert.NotNull(kept.LockedAt);
        Assert.Null(kept.TokenHash);
        Assert.Null(kept.Ua);
        Assert.Equal(jwe, kept.Payload);
        Assert.Equal(kept.RetainUntil, await App.ScalarAsync<DateTimeOffset>("select retain_until from patients where id = @patientId", new { patientId }));

        await Host.Scenario(s =>
        {
            s.Get.Url($"/api/consent/{signed.Token}");
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });
        var list = await Host.Scenario(s =>
        {
            s.Get.Url("/api/consent/practice");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        Assert.Empty((await list.ReadAsJsonAsync<ClinicFlow.Infrastructure.Page<ListConsentForms.Response>>()).Items);
        await Host.Scenario(s =>
        {
            s.Post.Json(new { consentId = signed.Id, receiverId = "A", senderId = "B", patient = new { number = "1" } }).ToUrl("/api/gdt/generate");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });
    }

    [Fact]
    public async Task Leaves_retain_until_empty_for_a_patient_without_signed_consents()
    {
        var admin = await RegisterClinicAsync(country: "DE");
        using var key = PracticeKey.NewEc();
        var (patientId, _) = await Host.PatientWithFormAsync(admin, key);

        await Host.Scenario(s =>
        {
            s.Delete.Url($"/api/patients/{patientId}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NoContent);
        });

        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from consent_forms where patient_id = @patientId", new { patientId }));
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from patients where id = @patientId and retain_until is not null", new { patientId }));
    }
}
