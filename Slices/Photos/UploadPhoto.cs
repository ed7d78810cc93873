using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;
using Npgsql;
using NpgsqlTypes;

namespace ClinicFlow.Slices.Photos;

/// <summary>
/// POST /api/photos: an admin or doctor uploads a photo encrypted on the device (multipart: the
/// ciphertext <c>file</c> and its fields). The file is streamed from the request body into 256 KB
/// rows of photo_chunks inside the request's transaction, so memory stays at one chunk whatever the
/// size; past 20 MB the answer is 413 at once and nothing is kept.
/// </summary>
public sealed partial class UploadPhoto : ICarterModule
{
    private const string ChunkSql = """
        insert into photo_chunks (clinic_id, photo_id, seq, data) values ($1, $2, $3, $4)
        """;

    private const string PatientSql = """
        select id from patients where clinic_id = @ClinicId and id = @PatientId and erased_at is null for share
        """;

    private const string InsertSql = $"""
        insert into photos as ph (id, clinic_id, patient_id, key_envelope, mime_type, taken_at, category, body_region,
                                  consent_status, consent_changed_at, size_bytes, chunk_bytes, sha256, created_by)
        values (@Id, @ClinicId, @PatientId, @KeyEnvelope, @MimeType, @TakenAt, @Category, @BodyRegion,
                @ConsentStatus, now(), @SizeBytes, @ChunkBytes, @Sha256, @CreatedBy)
        returning {PhotoRules.PhotoColumns}
        """;

    // Instants carry their offset (SPEC §1): Z or ±hh:mm.
    [GeneratedRegex("^\\d{4}-\\d{2}-\\d{2}T[0-9:.]+(Z|[+-]\\d{2}:?\\d{2})$")]
    private static partial Regex InstantFormat();

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/photos")
            .MapPost("/", Handle)
            .RequireDoctorOrAdmin()
            .WithMetadata(new Microsoft.AspNetCore.Mvc.RequestSizeLimitAttribute(PhotoRules.MaxRequestBytes))
            .UsesLargePool()
            .WithName(nameof(UploadPhoto))
            .WithSummary("Upload an encrypted photo (multipart: file, patientId, keyEnvelope, mimeType, takenAt, category, bodyRegion, consentStatus)")
            .Accepts<IFormFile>("multipart/form-data")
            .ProducesErrors(StatusCodes.Status413PayloadTooLarge, StatusCodes.Status415UnsupportedMediaType);

    private static async Task<Results<Created<Response>, ApiProblem>> Handle(Tenant tenant, CancellationToken ct)
    {
        var request = tenant.Http.Request;
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var media)
            || !media.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase)
            || HeaderUtilities.RemoveQuotes(media.Boundary).Value is not { Length: > 0 } boundary)
        {
            return ApiProblem.Of(StatusCodes.Status415UnsupportedMediaType, ErrorCodes.UnsupportedMediaType, new(
                "Upload the photo as multipart/form-data.", "Suba la foto como multipart/form-data.", "Laden Sie das Foto als multipart/form-data hoch."));
        }

        var id = Guid.CreateVersion7();
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        Stored? file = null;
        try
        {
            var multipart = new MultipartReader(boundary, request.Body);
            while (await multipart.ReadNextSectionAsync(ct) is { } section)
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)
                    || HeaderUtilities.RemoveQuotes(disposition.Name).Value is not { } name)
                {
                    continue;
                }

                if (name == "file")
                {
                    if (file is not null)
                    {
                        return ApiProblem.Validation("file", new("Send one file.", "Envíe un solo archivo.", "Senden Sie eine Datei."));
                    }

                    file = await StoreAsync(tenant, id, section.Body, ct);
                    if (file is null)
                    {
                        return ApiProblem.Of(StatusCodes.Status413PayloadTooLarge, ErrorCodes.PayloadTooLarge, new(
                            "The photo is larger than 20 MB.", "La foto supera los 20 MB.", "Das Foto ist größer als 20 MB."));
                    }
                }
                else if (!disposition.IsFileDisposition() && !fields.ContainsKey(name))
                {
                    fields[name] = await ReadFieldAsync(section.Body, ct);
                }
            }
        }
        catch (InvalidDataException)
        {
            return ApiProblem.Validation("file", new(
                "The upload is not readable multipart/form-data.", "La carga no es multipart/form-data legible.", "Der Upload ist kein lesbares multipart/form-data."));
        }

        var (values, errors) = Validate(fields, file);
        if (errors.Count > 0)
        {
            return ApiProblem.Validation(errors);
        }

        if (await tenant.QuerySingleOrDefaultAsync<Guid?>(PatientSql, new { tenant.ClinicId, values.PatientId }, ct) is null)
        {
            return ApiProblem.NotFound();
        }

        var photo = await tenant.QuerySingleAsync<PhotoRules.PhotoRow>(InsertSql, new
        {
            Id = id,
            tenant.ClinicId,
            values.PatientId,
            values.KeyEnvelope,
            values.MimeType,
            values.TakenAt,
            values.Category,
            values.BodyRegion,
            values.ConsentStatus,
            SizeBytes = file!.Size,
            ChunkBytes = PhotoRules.ChunkBytes,
            file.Sha256,
            CreatedBy = tenant.UserId,
        }, ct);
        await tenant.AuditAsync("photo.create", "photo", id, new
        {
            patientId = values.PatientId,
            values.Category,
            values.ConsentStatus,
            sizeBytes = file.Size,
        }, ct);
        return TypedResults.Created($"/api/photos/{id}", Response.From(photo, PhotoRules.DownloadUrl(tenant.Http, id)));
    }

    private sealed record Stored(long Size, byte[] Sha256);

    /// <summary>
    /// Streams the file section into chunk rows: one pooled chunk buffer, one prepared insert whose
    /// parameter points into the buffer. Null when the file passes the limit (the caller answers 413).
    /// </summary>
    private static async Task<Stored?> StoreAsync(Tenant tenant, Guid id, Stream body, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(PhotoRules.ChunkBytes);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        try
        {
            await using var insert = new NpgsqlCommand(ChunkSql, await tenant.ConnectionAsync(ct), tenant.Transaction);
            var seq = new NpgsqlParameter<int> { NpgsqlDbType = NpgsqlDbType.Integer };
            var data = new NpgsqlParameter<ReadOnlyMemory<byte>> { NpgsqlDbType = NpgsqlDbType.Bytea };
            insert.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = tenant.ClinicId, NpgsqlDbType = NpgsqlDbType.Uuid });
            insert.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id, NpgsqlDbType = NpgsqlDbType.Uuid });
            insert.Parameters.Add(seq);
            insert.Parameters.Add(data);
            long size = 0;
            for (var n = 0; ; n++)
            {
                var filled = await body.ReadAtLeastAsync(buffer.AsMemory(0, PhotoRules.ChunkBytes), PhotoRules.ChunkBytes, false, ct);
                if (filled == 0)
                {
                    break;
                }

                size += filled;
                if (size > PhotoRules.MaxFileBytes)
                {
                    return null;
                }

                hash.AppendData(buffer, 0, filled);
                seq.TypedValue = n;
                data.TypedValue = buffer.AsMemory(0, filled);
                await insert.ExecuteNonQueryAsync(ct);
                if (filled < PhotoRules.ChunkBytes)
                {
                    break;
                }
            }

            return new Stored(size, hash.GetHashAndReset());
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private const int MaxFieldChars = PhotoRules.MaxEnvelopeChars + 1;

    /// <summary>A text field, cut after the longest value any field may have (the validation then names it).</summary>
    private static async Task<string> ReadFieldAsync(Stream body, CancellationToken ct)
    {
        using var reader = new StreamReader(body, Encoding.UTF8, detectEncodingFromByteOrderMarks: false, bufferSize: 4096, leaveOpen: true);
        var chars = new char[MaxFieldChars];
        var read = await reader.ReadBlockAsync(chars.AsMemory(), ct);
        await body.CopyToAsync(Stream.Null, ct);
        return new string(chars, 0, read);
    }

    private sealed record Values(Guid PatientId, string KeyEnvelope, string MimeType, DateTimeOffset? TakenAt, string Category,
        string? BodyRegion, string ConsentStatus);

    private static (Values Values, Dictionary<string, string[]> Errors) Validate(Dictionary<string, string> fields, Stored? file)
    {
        var errors = new Dictionary<string, string[]>();
        string? Field(string name) => fields.TryGetValue(name, out var v) ? v.TrimToNull() : null;

        if (file is null || file.Size == 0)
        {
            errors["file"] = ["Attach the encrypted photo as the file part (not empty)."];
        }

        var patientId = Guid.Empty;
        if (Field("patientId") is not { } patient || !Guid.TryParse(patient, out patientId))
        {
            errors["patientId"] = ["Give the patient's id."];
        }

        var envelope = Field("keyEnvelope");
        if (!PhotoRules.IsKeyEnvelope(envelope))
        {
            errors["keyEnvelope"] = [PhotoRules.EnvelopeMessage.Current];
        }

        var mimeType = Field("mimeType")?.ToLowerInvariant();
        if (!PhotoRules.IsMimeType(mimeType))
        {
            errors["mimeType"] = ["Give the original's media type, like image/jpeg."];
        }

        DateTimeOffset? takenAt = null;
        if (Field("takenAt") is { } taken)
        {
            if (InstantFormat().IsMatch(taken)
                && DateTimeOffset.TryParse(taken, CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed))
            {
                takenAt = parsed.ToUniversalTime();
            }
            else
            {
                errors["takenAt"] = ["Use an ISO 8601 instant with its offset, like 2026-03-01T14:00:00Z."];
            }
        }

        var category = Field("category");
        if (category is null || !PhotoRules.Categories.Contains(category))
        {
            errors["category"] = ["Use before, after, progress or other."];
        }

        var bodyRegion = Field("bodyRegion");
        if (bodyRegion is { Length: > 100 })
        {
            errors["bodyRegion"] = ["At most 100 characters."];
        }

        var consent = Field("consentStatus") ?? "pending";
        if (!PhotoRules.ConsentStatuses.Contains(consent))
        {
            errors["consentStatus"] = ["Use pending, granted or revoked."];
        }

        return (new Values(patientId, envelope ?? "", mimeType ?? "", takenAt, category ?? "", bodyRegion, consent), errors);
    }

    public sealed record Response(Guid Id, Guid PatientId, string MimeType, DateTimeOffset? TakenAt, string Category, string? BodyRegion,
        string ConsentStatus, Guid? ConsentFormId, long SizeBytes, string Sha256, string KeyEnvelope, string DownloadUrl, DateTimeOffset CreatedAt)
    {
        internal static Response From(PhotoRules.PhotoRow p, string downloadUrl) =>
            new(p.Id, p.PatientId, p.MimeType, p.TakenAt, p.Category, p.BodyRegion, p.ConsentStatus, p.ConsentFormId, p.SizeBytes, p.Sha256,
                p.KeyEnvelope, downloadUrl, p.CreatedAt);
    }
}
