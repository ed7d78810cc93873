using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Settings;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Settings;

public sealed class UploadLogoTests(AppFixture app) : ApiTest(app)
{
    [Fact]
    public async Task Stores_a_png_and_answers_its_public_url_with_an_audit_entry()
    {
        var admin = await RegisterClinicAsync();
        var png = LogoTestData.Png(2048);

        var result = await Host.Scenario(s =>
        {
            s.Post.MultipartFormData(LogoTestData.File(png)).ToUrl("/api/settings/logo");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var logo = await result.ReadAsJsonAsync<UploadLogo.Response>();
        Assert.Equal("image/png", logo.ContentType);
        Assert.Equal(2048, logo.Bytes);
        Assert.StartsWith($"{AppFixture.PublicBaseUrl}/api/public/clinics/{admin.ClinicId}/logo?v=", logo.LogoUrl, StringComparison.Ordinal);
        Assert.Equal(png, await App.ScalarAsync<byte[]>("select content from practice_logos where clinic_id = @ClinicId", new { admin.ClinicId }));
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "settings.logo_upload");
        Assert.Contains("image/png", audit!.Changes, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("jpeg", "image/jpeg")]
    [InlineData("webp", "image/webp")]
    public async Task Recognises_jpeg_and_webp_by_their_magic_bytes_whatever_the_declared_type(string kind, string expected)
    {
        var admin = await RegisterClinicAsync();
        var bytes = kind == "jpeg" ? LogoTestData.Jpeg() : LogoTestData.Webp();

        var result = await Host.Scenario(s =>
        {
            s.Post.MultipartFormData(LogoTestData.File(bytes, "logo.bin", "application/octet-stream")).ToUrl("/api/settings/logo");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        Assert.Equal(expected, (await result.ReadAsJsonAsync<UploadLogo.Response>()).ContentType);
        Assert.Equal(expected, await App.ScalarAsync<string>("select content_type from practice_logos where clinic_id = @ClinicId", new { admin.ClinicId }));
    }

    [Fact]
    public async Task Refuses_svg_even_when_declared_as_png()
    {
        var admin = await RegisterClinicAsync();
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>"u8.ToArray();

        var result = await Host.Scenario(s =>
        {
            s.Post.MultipartFormData(LogoTestData.File(svg, "logo.png", "image/png")).ToUrl("/api/settings/logo");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.UnsupportedMediaType);
        });

        await ErrorAsync(result, ErrorCodes.UnsupportedMediaType);
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from practice_logos where clinic_id = @ClinicId", new { admin.ClinicId }));
    }

    [Fact]
    public async Task Refuses_a_logo_over_one_megabyte_with_413()
    {
        var admin = await RegisterClinicAsync();

        var result = await Host.Scenario(s =>
        {
            s.Post.MultipartFormData(LogoTestData.File(LogoTestData.Png(UploadLogo.MaxBytes + 1))).ToUrl("/api/settings/logo");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.RequestEntityTooLarge);
        });

        await ErrorAsync(result, ErrorCodes.PayloadTooLarge);
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from practice_logos where clinic_id = @ClinicId", new { admin.ClinicId }));
    }

    [Fact]
    public async Task Accepts_exactly_one_megabyte()
    {
        var admin = await RegisterClinicAsync();

        await Host.UploadLogoAsync(admin, LogoTestData.Png(UploadLogo.MaxBytes));

        Assert.Equal(UploadLogo.MaxBytes, await App.ScalarAsync<int>("select octet_length(content) from practice_logos where clinic_id = @ClinicId", new { admin.ClinicId }));
    }

    [Fact]
    public async Task Rejects_a_form_without_a_file_with_details()
    {
        var admin = await RegisterClinicAsync();

        await AssertInvalidAsync("file", s =>
        {
            s.Post.MultipartFormData(new MultipartFormDataContent { { new StringContent("x"), "comment" } }).ToUrl("/api/settings/logo");
            s.WithBearerToken(admin.Token);
        });
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Post.MultipartFormData(LogoTestData.File(LogoTestData.Png())).ToUrl("/api/settings/logo"));
    }

    [Theory]
    [InlineData("doctor")]
    [InlineData("staff")]
    public async Task Refuses_non_admins(string role)
    {
        await AssertRefusedForRoleAsync(role, s => s.Post.MultipartFormData(LogoTestData.File(LogoTestData.Png())).ToUrl("/api/settings/logo"));
    }
}
