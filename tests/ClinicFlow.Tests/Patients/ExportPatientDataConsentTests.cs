using System.Net;
using ClinicFlow.Slices.Patients;
using ClinicFlow.Tests.Consent;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Patients;

/// <summary>The consent part of <see cref="ExportPatientData"/> (DSGVO Art. 15): every form with its envelope as stored.</summary>
public sealed class ExportPatientDataConsentTests(AppFixture app) : ApiTest(app)
{
    [Fact]
    public async Task Includes_the_patients_consent_forms_with_the_ciphertext_the_practice_can_decrypt()
    {
        var admin = await RegisterClinicAsync(country: "DE");
        using var key = PracticeKey.NewEc();
        var (patientId, signed) = await Host.PatientWithFormAsync(admin, key);
        var open = await Host.CreateFormAsync(admin, patientId, "photo");
        var other = await Host.AddPatientAsync(admin, new { fullName = "Someone Else" });
        await Host.CreateFormAsync(admin, other.Id);
        var answers = ConsentTestData.Answers();
        await Host.SubmitAsync(signed.Token, key.Encrypt(answers));

        var result = await Host.Scenario(s =>
        {
            s.Get.Url($"/api/patients/{patientId}/export");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var export = await result.ReadAsJsonAsync<ExportPatientData.Response>();
        Assert.Equal([signed.Id, open.Id], export.ConsentForms.Select(f => f.Id));
        var form = export.ConsentForms[0];
        Assert.Equal(answers, key.Decrypt(form.EncryptedPayload!));
        Assert.Equal(key.Kid, form.Kid);
        Assert.NotNull(form.RetainUntil);
        Assert.Null(export.ConsentForms[1].EncryptedPayload);
        Assert.Equal("photo", export.ConsentForms[1].Type);
        Assert.NotNull(await LastAuditAsync(admin.ClinicId!.Value, "patient.data_export"));
    }
}
