using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Photos;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Photos;

/// <summary>POST /api/photos (<see cref="UploadPhoto"/>).</summary>
public sealed class UploadPhotoTests(AppFixture app) : ClinicalTest(app)
{
    [Fact]
    public async Task Stores_a_3_MB_ciphertext_in_chunks_with_its_metadata_and_audits_it()
    {
        var doctor = await DoctorAsync();
        var patient = await CreatePatientAsync(doctor);
        var bytes = RandomBytes(3 * 1024 * 1024);

        var photo = await UploadAsync(doctor, patient, bytes);

        Assert.Equal(patient, photo.PatientId);
        Assert.Equal(bytes.Length, photo.SizeBytes);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), photo.Sha256);
        Assert.Equal(KeyEnvelope, photo.KeyEnvelope);
        Assert.Equal(("image/jpeg", "before", "face", "pending"), (photo.MimeType, photo.Category, photo.BodyRegion, photo.ConsentStatus));
        Assert.Equal(new DateTimeOffset(2026, 3, 1, 14, 0, 0, TimeSpan.Zero), photo.TakenAt);
        Assert.Equal($"{AppFixture.PublicBaseUrl}/api/photos/{photo.Id}/download", photo.DownloadUrl);
        // 3 MB in 256 KB rows; the rows put together are the upload, byte for byte.
        Assert.Equal(12, await App.ScalarAsync<int>("select count(*)::int from photo_chunks where photo_id = @Id", new { photo.Id }));
        Assert.Equal(photo.Sha256, await App.ScalarAsync<string>(
            "select encode(sha256(string_agg(data, ''::bytea order by seq)), 'hex') from photo_chunks where photo_id = @Id", new { photo.Id }));
        Assert.Equal(doctor.ClinicId, await App.ScalarAsync<Guid>("select clinic_id from photos where id = @Id", new { photo.Id }));
        var audit = await LastAuditAsync(doctor.ClinicId!.Value, "photo.create");
        Assert.Equal(photo.Id.ToString(), audit!.EntityId);
        Assert.Contains(patient.ToString(), audit.Changes, StringComparison.Ordinal);
        Assert.DoesNotContain("practice-key-1", audit.Changes, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Refuses_a_file_over_20_MB_with_413_and_keeps_nothing()
    {
        var admin = await RegisterClinicAsync();
        var patient = await CreatePatientAsync(admin);

        var result = await Host.Scenario(s =>
        {
            s.Post.MultipartFormData(PhotoContent(patient, new byte[(int)PhotoRules.MaxFileBytes + 1])).ToUrl("/api/photos");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.RequestEntityTooLarge);
        });

        await ErrorAsync(result, ErrorCodes.PayloadTooLarge);
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from photos where clinic_id = @ClinicId", new { admin.ClinicId }));
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from photo_chunks where clinic_id = @ClinicId", new { admin.ClinicId }));
    }

    [Fact]
    public async Task Refuses_a_body_declared_far_over_the_limit_before_reading_it()
    {
        var admin = await RegisterClinicAsync();
        using var client = Client(admin);
        using var content = new ByteArrayContent(new byte[16]);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse("multipart/form-data; boundary=x");
        content.Headers.ContentLength = 30L * 1024 * 1024;

        using var response = await client.PostAsync(new Uri("/api/photos", UriKind.Relative), content, Ct);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains(ErrorCodes.PayloadTooLarge, await response.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Post.MultipartFormData(PhotoContent(Guid.NewGuid(), RandomBytes(10))).ToUrl("/api/photos"));
    }

    [Fact]
    public async Task Refuses_reception_staff()
    {
        await AssertRefusedForRoleAsync("staff", s => s.Post.MultipartFormData(PhotoContent(Guid.NewGuid(), RandomBytes(10))).ToUrl("/api/photos"));
    }

    [Fact]
    public async Task Answers_404_for_another_clinics_patient_and_keeps_nothing()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync();
        var foreign = await CreatePatientAsync(other);

        await Host.Scenario(s =>
        {
            s.Post.MultipartFormData(PhotoContent(foreign, RandomBytes(1000))).ToUrl("/api/photos");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });

        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from photo_chunks where photo_id in (select id from photos where patient_id = @foreign)"
            + " or clinic_id = @ClinicId", new { foreign, admin.ClinicId }));
    }

    [Fact]
    public async Task Rejects_bad_fields_with_details()
    {
        var admin = await RegisterClinicAsync();
        var bad = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..aXY.Y3Q.dGFn"; // alg dir: no wrapped key

        var result = await Host.Scenario(s =>
        {
            s.Post.MultipartFormData(PhotoContent(null, [], keyEnvelope: bad, category: "selfie", mimeType: "jpeg", takenAt: "yesterday",
                consentStatus: "maybe")).ToUrl("/api/photos");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.BadRequest);
        });

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Equal(["category", "consentStatus", "file", "keyEnvelope", "mimeType", "patientId", "takenAt"], error.Details!.Keys.Order());
    }

    [Fact]
    public async Task Refuses_a_json_body_with_415()
    {
        var admin = await RegisterClinicAsync();

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new { patientId = Guid.NewGuid() }).ToUrl("/api/photos");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.UnsupportedMediaType);
        });

        await ErrorAsync(result, ErrorCodes.UnsupportedMediaType);
    }

    private async Task<Account> DoctorAsync() => await AddUserAsync(await RegisterClinicAsync(), "doctor");
}

[CollectionDefinition(nameof(AllocationCollection), DisableParallelization = true)]
public sealed class AllocationCollection;

/// <summary>
/// Memory of <see cref="UploadPhoto"/> and <see cref="DownloadPhoto"/>: a 20 MB ciphertext streamed in and
/// out allocates far less than its size. Run alone (no parallel tests), because the process-wide
/// allocation counter would also count other tests' work.
/// </summary>
[Collection(nameof(AllocationCollection))]
public sealed class UploadPhotoMemoryTests(AppFixture app) : ClinicalTest(app)
{
    // A buffered upload or download would allocate at least the 20 MB itself; streaming stays at a few
    // chunk-sized buffers plus the request's ordinary work. 8 MB leaves room for the test host.
    private const long Bound = 8L * 1024 * 1024;

    [Fact]
    public async Task Streams_a_20_MB_upload_and_download_with_bounded_allocation()
    {
        var admin = await RegisterClinicAsync();
        var patient = await CreatePatientAsync(admin);
        using var client = Client(admin);
        var expected = Hash(PhotoRules.MaxFileBytes);
        await UploadAsync(admin, patient, RandomBytes(1000)); // warm the paths up

        GC.Collect();
        var before = GC.GetTotalAllocatedBytes(true);
        using var upload = await client.PostAsync(new Uri("/api/photos", UriKind.Relative), StreamedUpload(patient, PhotoRules.MaxFileBytes), Ct);
        var uploaded = GC.GetTotalAllocatedBytes(true) - before;

        Assert.Equal(HttpStatusCode.Created, upload.StatusCode);
        var photo = System.Text.Json.JsonSerializer.Deserialize<UploadPhoto.Response>(await upload.Content.ReadAsStringAsync(Ct), Json)!;
        Assert.Equal(PhotoRules.MaxFileBytes, photo.SizeBytes);
        Assert.Equal(expected, photo.Sha256);
        Assert.True(uploaded < Bound, $"The upload allocated {uploaded / 1024} KB.");

        GC.Collect();
        before = GC.GetTotalAllocatedBytes(true);
        using var download = await client.GetAsync(new Uri($"/api/photos/{photo.Id}/download", UriKind.Relative),
            HttpCompletionOption.ResponseHeadersRead, Ct);
        await using var body = await download.Content.ReadAsStreamAsync(Ct);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[64 * 1024];
        int read;
        while ((read = await body.ReadAsync(buffer, Ct)) > 0)
        {
            sha.AppendData(buffer, 0, read);
        }

        var downloaded = GC.GetTotalAllocatedBytes(true) - before;
        Assert.Equal(expected, Convert.ToHexStringLower(sha.GetHashAndReset()));
        Assert.True(downloaded < Bound, $"The download allocated {downloaded / 1024} KB.");
    }

    private static MultipartFormDataContent StreamedUpload(Guid patient, long length)
    {
        var content = PhotoContent(patient, null);
        var file = new GeneratedContent(length);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        content.Add(file, "file", "photo.bin");
        return content;
    }

    private static string Hash(long length)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var block in GeneratedContent.Blocks(length))
        {
            sha.AppendData(block.Span);
        }

        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>Pseudo-random bytes written from one reused buffer, with no declared length: nothing buffers the whole body.</summary>
    private sealed class GeneratedContent(long length) : HttpContent
    {
        private static readonly byte[] Pattern = GeneratePattern();

        private static byte[] GeneratePattern()
        {
            var bytes = new byte[64 * 1024 + 7];
            new Random(11).NextBytes(bytes);
            return bytes;
        }

        public static IEnumerable<ReadOnlyMemory<byte>> Blocks(long length)
        {
            for (long left = length; left > 0;)
            {
                var n = (int)Math.Min(Pattern.Length, left);
                yield return Pattern.AsMemory(0, n);
                left -= n;
            }
        }

        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
        {
            foreach (var block in Blocks(length))
            {
                await stream.WriteAsync(block);
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = -1;
            return false;
        }
    }
}
