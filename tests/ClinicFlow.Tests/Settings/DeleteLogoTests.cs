using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Settings;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Settings;

/// <summary>Tests of <see cref="DeleteLogo"/>.</summary>
public sealed class DeleteLogoTests(AppFixture app) : ApiTest(app)
{
    [Fact]
    public async Task Removes_the_logo_and_the_public_url_answers_404()
    {
        var admin = await RegisterClinicAsync();
        await Host.UploadLogoAsync(admin, LogoTestData.Png());

        await Host.Scenario(s =>
        {
            s.Delete.Url("/api/settings/logo");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NoContent);
        });

        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from practice_logos where clinic_id = @ClinicId", new { admin.ClinicId }));
        Assert.NotNull(await LastAuditAsync(admin.ClinicId!.Value, "settings.logo_delete"));
        await Host.Scenario(s =>
        {
            s.Get.Url($"/api/public/clinics/{admin.ClinicId}/logo");
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });
    }

    [Fact]
    public async Task Answers_404_when_there_is_no_logo_and_leaves_another_clinics_logo_alone()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync();
        await Host.UploadLogoAsync(other, LogoTestData.Png());

        var result = await Host.Scenario(s =>
        {
            s.Delete.Url("/api/settings/logo");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });

        await ErrorAsync(result, ErrorCodes.NotFound);
        Assert.Equal(1, await App.ScalarAsync<int>("select count(*)::int from practice_logos where clinic_id = @ClinicId", new { other.ClinicId }));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Delete.Url("/api/settings/logo"));
    }

    [Theory]
    [InlineData("doctor")]
    [InlineData("staff")]
    public async Task Refuses_non_admins(string role)
    {
        await AssertRefusedForRoleAsync(role, s => s.Delete.Url("/api/settings/logo"));
    }
}
