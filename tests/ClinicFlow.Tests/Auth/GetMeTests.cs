using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Auth;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Auth;

public sealed class GetMeTests(AppFixture app) : ApiTest(app)
{
    private async Task<GetMe.Response> MeAsync(string token)
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/auth/me");
            s.WithBearerToken(token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        return await result.ReadAsJsonAsync<GetMe.Response>();
    }

    [Fact]
    public async Task Shows_profile_clinic_plan_limits_and_usage()
    {
        var admin = await RegisterClinicAsync();
        await AddUserAsync(admin, "doctor");
        await App.ExecuteAsync("""
            insert into doctors (id, clinic_id, full_name, active)
            values (gen_random_uuid(), @ClinicId, 'Dr. Active', true), (gen_random_uuid(), @ClinicId, 'Dr. Gone', false)
            """, new { admin.ClinicId });

        var me = await MeAsync(admin.Token);

        Assert.Equal(admin.UserId, me.User.Id);
        Assert.Equal(admin.Email, me.User.Email);
        Assert.Equal("admin", me.User.Role);
        Assert.Equal(admin.ClinicId, me.Clinic!.Id);
        Assert.Equal("Clínica Test", me.Clinic.Name);
        Assert.Equal("ARS", me.Clinic.Currency);
        Assert.Equal("pro", me.Plan);
        Assert.Equal(new GetMe.Limits(10, 25), me.Limits);
        Assert.Equal(new GetMe.Usage(Users: 2, Doctors: 1), me.Usage);
        Assert.False(me.HasPin);
    }

    [Fact]
    public async Task Follows_the_plan_and_a_superadmin_override()
    {
        var admin = await RegisterClinicAsync();
        await App.ExecuteAsync("update clinics set plan = 'basic', max_users_override = 7 where id = @ClinicId", new { admin.ClinicId });

        var me = await MeAsync(admin.Token);

        Assert.Equal("basic", me.Plan);
        Assert.Equal(new GetMe.Limits(2, 7), me.Limits);
    }

    [Fact]
    public async Task Stays_open_when_the_subscription_expired()
    {
        var admin = await RegisterClinicAsync();
        await App.ExecuteAsync("update clinics set subscription_expires_at = now() - interval '1 day' where id = @ClinicId", new { admin.ClinicId });

        var me = await MeAsync(admin.Token);

        Assert.Equal(admin.UserId, me.User.Id);
    }

    [Fact]
    public async Task Shows_a_user_without_clinic()
    {
        var solo = await RegisterWithoutClinicAsync();

        var me = await MeAsync(solo.Token);

        Assert.Equal(solo.UserId, me.User.Id);
        Assert.Null(me.User.ClinicId);
        Assert.Null(me.User.Role);
        Assert.Null(me.Clinic);
        Assert.Null(me.Plan);
        Assert.Null(me.Limits);
        Assert.Null(me.Usage);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("not.a.token")]
    public async Task Requires_a_valid_token(string? token)
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/auth/me");
            if (token is not null)
            {
                s.WithBearerToken(token);
            }

            s.StatusCodeShouldBe(HttpStatusCode.Unauthorized);
        });

        await ErrorAsync(result, ErrorCodes.Unauthenticated);
    }
}
