using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Superadmin;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Superadmin;

public sealed class GetClinicTests(AppFixture app) : ApiTest(app)
{
    [Fact]
    public async Task Returns_details_with_overrides_effective_limits_and_usage()
    {
        var admin = await RegisterClinicAsync("Consultorio Norte", "MX");
        await AddUserAsync(admin, "doctor");
        await App.ExecuteAsync("update clinics set plan = 'basic', max_users_override = 8 where id = @ClinicId", new { admin.ClinicId });

        var result = await Host.Scenario(s =>
        {
            s.Get.Url($"/api/superadmin/clinics/{admin.ClinicId}");
            s.WithRequestHeader("X-Admin-Key", AppFixture.SuperadminKey);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var clinic = await result.ReadAsJsonAsync<GetClinic.Response>();
        Assert.Equal(admin.ClinicId, clinic.Id);
        Assert.Equal("Consultorio Norte", clinic.Name);
        Assert.Equal("America/Mexico_City", clinic.Timezone);
        Assert.Equal("MXN", clinic.Currency);
        Assert.Equal("basic", clinic.Plan);
        Assert.Null(clinic.MaxDoctorsOverride);
        Assert.Equal(8, clinic.MaxUsersOverride);
        Assert.Equal(new GetClinic.Limits(2, 8), clinic.Limits);
        Assert.Equal(new GetClinic.Usage(2, 2), clinic.Usage);
        Assert.True(clinic.Active);
        Assert.False(clinic.Expired);
    }

    [Fact]
    public async Task Shows_enterprise_as_unlimited()
    {
        var admin = await RegisterClinicAsync();
        await App.ExecuteAsync("update clinics set plan = 'enterprise' where id = @ClinicId", new { admin.ClinicId });

        var result = await Host.Scenario(s =>
        {
            s.Get.Url($"/api/superadmin/clinics/{admin.ClinicId}");
            s.WithRequestHeader("X-Admin-Key", AppFixture.SuperadminKey);
        });

        var clinic = await result.ReadAsJsonAsync<GetClinic.Response>();
        Assert.Equal(new GetClinic.Limits(null, null), clinic.Limits);
    }

    [Fact]
    public async Task Answers_404_for_an_unknown_clinic()
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url($"/api/superadmin/clinics/{Guid.CreateVersion7()}");
            s.WithRequestHeader("X-Admin-Key", AppFixture.SuperadminKey);
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });

        await ErrorAsync(result, ErrorCodes.NotFound);
    }

    [Fact]
    public async Task Requires_the_admin_key()
    {
        var admin = await RegisterClinicAsync();

        var result = await Host.Scenario(s =>
        {
            s.Get.Url($"/api/superadmin/clinics/{admin.ClinicId}");
            s.WithBearerToken(admin.Token);
            s.WithRequestHeader("X-Admin-Key", "wrong");
            s.StatusCodeShouldBe(HttpStatusCode.Unauthorized);
        });

        await ErrorAsync(result, ErrorCodes.Unauthenticated);
    }
}
