using ClinicFlow.Slices.Health;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Health;

public sealed class GetLiveTests(AppFixture app) : ApiTest(app)
{
    [Fact]
    public async Task Answers_live_without_a_token()
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/health/live");
            s.StatusCodeShouldBeOk();
        });

        Assert.Equal("live", (await result.ReadAsJsonAsync<GetLive.Response>()).Status);
    }
}
