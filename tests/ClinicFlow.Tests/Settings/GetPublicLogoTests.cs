using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Settings;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Settings;

/// <summary>Tests of <see cref="GetPublicLogo"/>.</summary>
public sealed class GetPublicLogoTests(AppFixture app) : ApiTest(app)
{
    [Fact]
    public async Task Serves_the_bytes_with_etag_cache_control_and_nosniff_without_a_token()
    {
        var admin = await RegisterClinicAsync();
        var jpeg = LogoTestData.Jpeg();
        await Host.UploadLogoAsync(admin, jpeg);

        var result = await Host.Scenario(s =>
        {
            s.Get.Url($"/api/public/clinics/{admin.ClinicId}/logo");
            s.StatusCodeShouldBe(HttpStatusCode.OK);
            s.ContentTypeShouldBe("image/jpeg");
        });

        var headers = result.Context.Response.Headers;
        Assert.Equal(jpeg, await ReadBytesAsync(result));
        Assert.Equal("nosniff", headers.XContentTypeOptions.ToString());
        Assert.Contains("max-age", headers.CacheControl.ToString(), StringComparison.Ordinal);
        var etag = await App.ScalarAsync<string>("select etag from practice_logos where clinic_id = @ClinicId", new { admin.ClinicId });
        Assert.Equal($"\"{etag}\"", headers.ETag.ToString());
    }

    [Fact]
    public async Task Answers_304_to_a_matching_if_none_match_and_200_after_a_replacement()
    {
        var admin = await RegisterClinicAsync();
        await Host.UploadLogoAsync(admin, LogoTestData.Png());
        var etag = "\"" + await App.ScalarAsync<string>("select etag from practice_logos where clinic_id = @ClinicId", new { admin.ClinicId }) + "\"";

        await Host.Scenario(s =>
        {
            s.Get.Url($"/api/public/clinics/{admin.ClinicId}/logo");
            s.WithRequestHeader("If-None-Match", etag);
            s.StatusCodeShouldBe(HttpStatusCode.NotModified);
        });

        await Host.UploadLogoAsync(admin, LogoTestData.Webp());
        await Host.Scenario(s =>
        {
            s.Get.Url($"/api/public/clinics/{admin.ClinicId}/logo");
            s.WithRequestHeader("If-None-Match", etag);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
            s.ContentTypeShouldBe("image/webp");
        });
    }

    [Fact]
    public async Task Answers_404_for_a_clinic_without_logo_or_an_unknown_clinic()
    {
        var admin = await RegisterClinicAsync();

        foreach (var id in new[] { admin.ClinicId!.Value, Guid.NewGuid() })
        {
            var result = await Host.Scenario(s =>
            {
                s.Get.Url($"/api/public/clinics/{id}/logo");
                s.StatusCodeShouldBe(HttpStatusCode.NotFound);
            });
            await ErrorAsync(result, ErrorCodes.NotFound);
        }
    }

    [Fact]
    public async Task Rejects_a_malformed_clinic_id()
    {
        await Host.Scenario(s =>
        {
            s.Get.Url("/api/public/clinics/not-a-uuid/logo");
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });
    }

    private static async Task<byte[]> ReadBytesAsync(IScenarioResult result)
    {
        using var buffer = new MemoryStream();
        var body = result.Context.Response.Body;
        if (body.CanSeek)
        {
            body.Position = 0;
        }

        await body.CopyToAsync(buffer);
        return buffer.ToArray();
    }
}
