using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Photos;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Photos;

/// <summary>GET /api/photos/{id}/download (<see cref="DownloadPhoto"/>).</summary>
public sealed class DownloadPhotoTests(AppFixture app) : ClinicalTest(app)
{
    [Fact]
    public async Task Gives_back_a_3_MB_ciphertext_byte_for_byte_with_its_envelope_and_etag()
    {
        var admin = await RegisterClinicAsync();
        var patient = await CreatePatientAsync(admin);
        var bytes = RandomBytes(3 * 1024 * 1024 + 123);
        var photo = await UploadAsync(admin, patient, bytes);
        using var client = Client(admin);

        using var response = await client.GetAsync(new Uri($"/api/photos/{photo.Id}/download", UriKind.Relative), Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadAsByteArrayAsync(Ct);
        Assert.Equal(SHA256.HashData(bytes), SHA256.HashData(body));
        Assert.Equal(bytes, body);
        Assert.Equal("application/octet-stream", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal(bytes.Length, response.Content.Headers.ContentLength);
        Assert.Equal(KeyEnvelope, response.Headers.GetValues(DownloadPhoto.EnvelopeHeader).Single());
        Assert.Equal("image/jpeg", response.Headers.GetValues(DownloadPhoto.MimeTypeHeader).Single());
        Assert.Equal($"\"{photo.Sha256}\"", response.Headers.ETag!.Tag);
        Assert.Contains("bytes", response.Headers.AcceptRanges);
    }

    [Fact]
    public async Task Answers_304_when_the_etag_matches()
    {
        var admin = await RegisterClinicAsync();
        var photo = await UploadAsync(admin, await CreatePatientAsync(admin));
        using var client = Client(admin);
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/photos/{photo.Id}/download");
        request.Headers.IfNoneMatch.Add(new EntityTagHeaderValue($"\"{photo.Sha256}\""));

        using var response = await client.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync(Ct));
    }

    [Theory]
    [InlineData(0L, 9L)]
    [InlineData(262_140L, 262_150L)] // across the first chunk boundary
    [InlineData(600_000L, 699_999L)]
    public async Task Serves_a_byte_range_across_chunks(long from, long to)
    {
        var admin = await RegisterClinicAsync();
        var bytes = RandomBytes(700_000);
        var photo = await UploadAsync(admin, await CreatePatientAsync(admin), bytes);
        using var client = Client(admin);
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/photos/{photo.Id}/download");
        request.Headers.Range = new RangeHeaderValue(from, to);

        using var response = await client.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
        Assert.Equal(bytes[(int)from..(int)(to + 1)], await response.Content.ReadAsByteArrayAsync(Ct));
        Assert.Equal($"bytes {from}-{to}/{bytes.Length}", response.Content.Headers.ContentRange!.ToString());
    }

    [Fact]
    public async Task Serves_the_whole_file_for_an_unsatisfiable_range()
    {
        var admin = await RegisterClinicAsync();
        var bytes = RandomBytes(1000);
        var photo = await UploadAsync(admin, await CreatePatientAsync(admin), bytes);
        using var client = Client(admin);
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/photos/{photo.Id}/download");
        request.Headers.Range = new RangeHeaderValue(5000, 6000);

        using var response = await client.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(bytes, await response.Content.ReadAsByteArrayAsync(Ct));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Get.Url($"/api/photos/{Guid.NewGuid()}/download"));
    }

    [Fact]
    public async Task Refuses_reception_staff()
    {
        await AssertRefusedForRoleAsync("staff", s => s.Get.Url($"/api/photos/{Guid.NewGuid()}/download"));
    }

    [Fact]
    public async Task Answers_404_for_another_clinics_photo()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync();
        var photo = await UploadAsync(other, await CreatePatientAsync(other));

        var result = await Host.Scenario(s =>
        {
            s.Get.Url($"/api/photos/{photo.Id}/download");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });

        await ErrorAsync(result, ErrorCodes.NotFound);
        Assert.False(result.Context.Response.Headers.ContainsKey(DownloadPhoto.EnvelopeHeader));
    }

    [Fact]
    public async Task Rejects_an_id_that_is_not_a_uuid()
    {
        var admin = await RegisterClinicAsync();

        await Host.Scenario(s =>
        {
            s.Get.Url("/api/photos/not-a-uuid/download");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });
    }
}
