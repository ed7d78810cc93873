using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Photos;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Photos;

/// <summary>DELETE /api/photos/{id} (<see cref="DeletePhoto"/>).</summary>
public sealed class DeletePhotoTests(AppFixture app) : ClinicalTest(app)
{
    [Fact]
    public async Task Deletes_the_photo_and_its_chunks_and_audits_it()
    {
        var admin = await RegisterClinicAsync();
        var doctor = await AddUserAsync(admin, "doctor");
        var patient = await CreatePatientAsync(admin);
        var photo = await UploadAsync(admin, patient, RandomBytes(600_000));

        await Host.Scenario(s =>
        {
            s.Delete.Url($"/api/photos/{photo.Id}");
            s.WithBearerToken(doctor.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NoContent);
        });

        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from photos where id = @Id", new { photo.Id }));
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from photo_chunks where photo_id = @Id", new { photo.Id }));
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "photo.delete");
        Assert.Equal(photo.Id.ToString(), audit!.EntityId);
        Assert.Equal(doctor.UserId, audit.ActorId);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Delete.Url($"/api/photos/{Guid.NewGuid()}"));
    }

    [Fact]
    public async Task Refuses_reception_staff()
    {
        await AssertRefusedForRoleAsync("staff", s => s.Delete.Url($"/api/photos/{Guid.NewGuid()}"));
    }

    [Fact]
    public async Task Answers_404_for_another_clinics_photo_and_keeps_it()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync();
        var photo = await UploadAsync(other, await CreatePatientAsync(other));

        var result = await Host.Scenario(s =>
        {
            s.Delete.Url($"/api/photos/{photo.Id}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });

        await ErrorAsync(result, ErrorCodes.NotFound);
        Assert.Equal(1, await App.ScalarAsync<int>("select count(*)::int from photos where id = @Id", new { photo.Id }));
    }
}
