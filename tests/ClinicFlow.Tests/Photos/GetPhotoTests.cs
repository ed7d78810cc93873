using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Photos;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Photos;

/// <summary>GET /api/photos/{id} (<see cref="GetPhoto"/>).</summary>
public sealed class GetPhotoTests(AppFixture app) : ClinicalTest(app)
{
    [Fact]
    public async Task Answers_the_metadata_with_envelope_and_link()
    {
        var admin = await RegisterClinicAsync();
        var doctor = await AddUserAsync(admin, "doctor");
        var patient = await CreatePatientAsync(admin);
        var uploaded = await UploadAsync(admin, patient, consentStatus: "granted");

        var result = await Host.Scenario(s =>
        {
            s.Get.Url($"/api/photos/{uploaded.Id}");
            s.WithBearerToken(doctor.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var photo = await BodyAsync<GetPhoto.Response>(result);
        Assert.Equal(uploaded.Id, photo.Id);
        Assert.Equal(patient, photo.PatientId);
        Assert.Equal("granted", photo.ConsentStatus);
        Assert.Equal(KeyEnvelope, photo.KeyEnvelope);
        Assert.Equal(1000, photo.SizeBytes);
        Assert.Equal(uploaded.Sha256, photo.Sha256);
        Assert.EndsWith($"/api/photos/{uploaded.Id}/download", photo.DownloadUrl, StringComparison.Ordinal);
        Assert.Equal("granted", await App.ScalarAsync<string>("select consent_status from photos where id = @Id", new { uploaded.Id }));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Get.Url($"/api/photos/{Guid.NewGuid()}"));
    }

    [Fact]
    public async Task Refuses_reception_staff()
    {
        await AssertRefusedForRoleAsync("staff", s => s.Get.Url($"/api/photos/{Guid.NewGuid()}"));
    }

    [Fact]
    public async Task Answers_404_for_another_clinics_photo()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync();
        var photo = await UploadAsync(other, await CreatePatientAsync(other));

        var result = await Host.Scenario(s =>
        {
            s.Get.Url($"/api/photos/{photo.Id}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });

        await ErrorAsync(result, ErrorCodes.NotFound);
    }
}
