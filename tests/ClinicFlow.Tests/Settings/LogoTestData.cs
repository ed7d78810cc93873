using System.Net;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Settings;

/// <summary>Images for the logo slices' tests: real magic bytes, padded to the size a test needs.</summary>
internal static class LogoTestData
{
    public static readonly byte[] PngMagic = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    public static byte[] Png(int size = 64) => PngMagic.Concat(new byte[Math.Max(0, size - PngMagic.Length)]).ToArray();

    public static byte[] Jpeg() => [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 0x4A, 0x46, 0x49, 0x46, 0x00, 0x01];

    public static byte[] Webp() => [.. "RIFF"u8, 0x24, 0, 0, 0, .. "WEBPVP8 "u8, 0, 0, 0, 0];

    public static MultipartFormDataContent File(byte[] bytes, string fileName = "logo.png", string contentType = "image/png")
    {
        var file = new ByteArrayContent(bytes);
        file.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(contentType);
        return new MultipartFormDataContent { { file, "file", fileName } };
    }

    public static async Task UploadLogoAsync(this IAlbaHost host, Account admin, byte[] bytes)
    {
        await host.Scenario(s =>
        {
            s.Post.MultipartFormData(File(bytes)).ToUrl("/api/settings/logo");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
    }
}
