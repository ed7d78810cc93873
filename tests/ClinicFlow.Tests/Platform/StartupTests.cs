using ClinicFlow.Tests.Support;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Options;

namespace ClinicFlow.Tests.Platform;

/// <summary>Outside Development the service refuses to start without what it needs, naming it.</summary>
public sealed class StartupTests(AppFixture app) : ApiTest(app)
{
    private async Task<Exception> BootFailureAsync(string? signingKey)
    {
        var database = "clinicflow_test_boot_" + Guid.NewGuid().ToString("N")[..8];
        var settings = App.BaseSettings(await App.Cluster.CreateDatabaseAsync(database));
        settings["Jwt:SigningKeys:0"] = signingKey;
        return await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var host = await AlbaHost.For<Program>(web => web.UseEnvironment("Production"), ConfigurationOverride.Create(settings));
        });
    }

    [Fact]
    public async Task Refuses_to_start_in_production_without_a_signing_key()
    {
        var failure = await BootFailureAsync("");

        var options = Assert.IsType<OptionsValidationException>(failure.GetBaseException());
        Assert.Contains("Jwt:SigningKeys", options.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Refuses_a_signing_key_that_is_not_p256_pem()
    {
        var failure = await BootFailureAsync("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----");

        Assert.Contains("Jwt:SigningKeys:0", failure.GetBaseException().Message, StringComparison.Ordinal);
    }
}
