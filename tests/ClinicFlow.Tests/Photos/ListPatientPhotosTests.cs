using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Photos;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Photos;

/// <summary>GET /api/photos/patient/{patientId} (<see cref="ListPatientPhotos"/>).</summary>
public sealed class ListPatientPhotosTests(AppFixture app) : ClinicalTest(app)
{
    [Fact]
    public async Task Lists_the_patients_photos_page_by_page()
    {
        var admin = await RegisterClinicAsync();
        var patient = await CreatePatientAsync(admin);
        var otherPatient = await CreatePatientAsync(admin, "Otro Paciente");
        var first = await UploadAsync(admin, patient);
        var second = await UploadAsync(admin, patient);
        var third = await UploadAsync(admin, patient);
        await UploadAsync(admin, otherPatient);

        var page1 = await PageAsync(admin, $"/api/photos/patient/{patient}?limit=2");
        var page2 = await PageAsync(admin, $"/api/photos/patient/{patient}?limit=2&cursor={page1.NextCursor}");

        Assert.Equal([first.Id, second.Id], page1.Items.Select(p => p.Id));
        Assert.Equal([third.Id], page2.Items.Select(p => p.Id));
        Assert.Null(page2.NextCursor);
        Assert.All(page1.Items, p => Assert.Equal(patient, p.PatientId));
        Assert.Equal(3, await App.ScalarAsync<int>("select count(*)::int from photos where patient_id = @patient", new { patient }));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Get.Url($"/api/photos/patient/{Guid.NewGuid()}"));
    }

    [Fact]
    public async Task Refuses_reception_staff()
    {
        await AssertRefusedForRoleAsync("staff", s => s.Get.Url($"/api/photos/patient/{Guid.NewGuid()}"));
    }

    [Fact]
    public async Task Answers_404_for_another_clinics_patient()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync();
        var foreign = await CreatePatientAsync(other);
        await UploadAsync(other, foreign);

        var result = await Host.Scenario(s =>
        {
            s.Get.Url($"/api/photos/patient/{foreign}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });

        await ErrorAsync(result, ErrorCodes.NotFound);
    }

    [Fact]
    public async Task Rejects_a_bad_limit_with_details()
    {
        var admin = await RegisterClinicAsync();
        var patient = await CreatePatientAsync(admin);

        await AssertInvalidAsync("limit", s =>
        {
            s.Get.Url($"/api/photos/patient/{patient}?limit=500");
            s.WithBearerToken(admin.Token);
        });
    }

    private async Task<Page<ListPatientPhotos.Response>> PageAsync(Account account, string url)
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url(url);
            s.WithBearerToken(account.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        return await BodyAsync<Page<ListPatientPhotos.Response>>(result);
    }
}
