using System.Net;
using ClinicFlow.Slices.Settings;
using ClinicFlow.Tests.Consent;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Settings;

public sealed class GetSettingsTests(AppFixture app) : ApiTest(app)
{
    [Fact]
    public async Task Answers_the_defaults_for_a_practice_that_saved_none()
    {
        var admin = await RegisterClinicAsync(country: "DE");

        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/settings");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var settings = await result.ReadAsJsonAsync<GetSettings.Response>();
        Assert.Null(settings.PublicKey);
        Assert.Equal(7, settings.ConsentExpiryDays);
        Assert.Equal(3653, settings.RetentionDays);
        Assert.Null(settings.LogoUrl);
        Assert.Empty(settings.Keys);
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from practice_settings where clinic_id = @ClinicId", new { admin.ClinicId }));
    }

    [Fact]
    public async Task Shows_the_current_key_and_the_key_history_of_the_own_practice_only()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync();
        using var first = PracticeKey.NewEc();
        using var second = PracticeKey.NewRsa();
        using var foreign = PracticeKey.NewEc();
        await Host.PublishKeyAsync(admin, first);
        await Host.PublishKeyAsync(admin, second);
        await Host.PublishKeyAsync(other, foreign);

        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/settings");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var settings = await result.ReadAsJsonAsync<GetSettings.Response>();
        Assert.Equal(second.Kid, settings.PublicKey!.Value.GetProperty("kid").GetString());
        Assert.Equal("RSA", settings.PublicKey.Value.GetProperty("kty").GetString());
        Assert.Equal([second.Kid, first.Kid], settings.Keys.Select(k => k.Kid));
        Assert.Null(settings.Keys[0].RetiredAt);
        Assert.NotNull(settings.Keys[1].RetiredAt);
        Assert.DoesNotContain(settings.Keys, k => k.Kid == foreign.Kid);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Get.Url("/api/settings"));
    }

    [Theory]
    [InlineData("doctor")]
    [InlineData("staff")]
    public async Task Refuses_non_admins(string role)
    {
        await AssertRefusedForRoleAsync(role, s => s.Get.Url("/api/settings"));
    }
}
