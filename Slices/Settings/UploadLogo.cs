using System.Security.Cryptography;
using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace ClinicFlow.Slices.Settings;

/// <summary>
/// POST /api/settings/logo: an admin uploads the practice logo (multipart, one file part): PNG,
/// JPEG or WebP recognised by their magic bytes, never by the declared type; at most 1 MB; no SVG
/// (it can carry script). Stored in PostgreSQL and served publicly for the consent pages.
/// </summary>
public sealed class UploadLogo : ICarterModule
{
    public const int MaxBytes = 1024 * 1024;

    private const string UpsertSql = """
        insert into practice_logos (clinic_id, content_type, content, etag)
        values (@ClinicId, @ContentType, @Content, @Etag)
        on conflict (clinic_id) do update
           set content_type = excluded.content_type, content = excluded.content, etag = excluded.etag, updated_at = now()
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/settings")
            .MapPost("/logo", Handle)
            .RequireAdmin()
            // the file plus the multipart envelope; a larger file part is refused while it is read
            .WithMetadata(new Microsoft.AspNetCore.Mvc.RequestSizeLimitAttribute(MaxBytes + (64 * 1024)))
            .WithName(nameof(UploadLogo))
            .WithSummary("Upload the practice logo (PNG, JPEG or WebP, at most 1 MB)")
            .Accepts<IFormFile>("multipart/form-data")
            .ProducesErrors(StatusCodes.Status413PayloadTooLarge, StatusCodes.Status415UnsupportedMediaType);

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(Tenant tenant, CancellationToken ct)
    {
        var request = tenant.Http.Request;
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var media)
            || !media.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase)
            || HeaderUtilities.RemoveQuotes(media.Boundary).Value is not { Length: > 0 } boundary)
        {
            return ApiProblem.Of(StatusCodes.Status415UnsupportedMediaType, ErrorCodes.UnsupportedMediaType, new(
                "Upload the logo as multipart/form-data.", "Suba el logotipo como multipart/form-data.", "Laden Sie das Logo als multipart/form-data hoch."));
        }

        var multipart = new MultipartReader(boundary, request.Body);
        byte[]? content = null;
        while (await multipart.ReadNextSectionAsync(ct) is { } section)
        {
            if (ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition) && disposition.IsFileDisposition())
            {
                content = await ReadCappedAsync(section.Body, ct);
                if (content is null)
                {
                    return ApiProblem.Of(StatusCodes.Status413PayloadTooLarge, ErrorCodes.PayloadTooLarge, new(
                        "The logo may be at most 1 MB.", "El logotipo puede tener como máximo 1 MB.", "Das Logo darf höchstens 1 MB groß sein."));
                }

                break;
            }
        }

        if (content is null || content.Length == 0)
        {
            return ApiProblem.Validation("file", new("Attach one image file.", "Adjunte un archivo de imagen.", "Hängen Sie eine Bilddatei an."));
        }

        if (SniffImage(content) is not { } contentType)
        {
            return ApiProblem.Of(StatusCodes.Status415UnsupportedMediaType, ErrorCodes.UnsupportedMediaType, new(
                "The logo must be a PNG, JPEG or WebP image.",
                "El logotipo debe ser una imagen PNG, JPEG o WebP.",
                "Das Logo muss ein PNG-, JPEG- oder WebP-Bild sein."));
        }

        var etag = Convert.ToHexStringLower(SHA256.HashData(content).AsSpan(0, 16));
        await tenant.ExecuteAsync(UpsertSql, new { tenant.ClinicId, ContentType = contentType, Content = content, Etag = etag }, ct);
        await tenant.AuditAsync("settings.logo_upload", "settings", tenant.ClinicId, new { contentType, bytes = content.Length }, ct);
        return TypedResults.Ok(new Response(SettingsRules.LogoUrl(tenant.Http, tenant.ClinicId, etag), contentType, content.Length));
    }

    /// <summary>The image type by its magic bytes, or null: SVG, GIF and anything else are refused.</summary>
    public static string? SniffImage(ReadOnlySpan<byte> content)
    {
        if (content.StartsWith((ReadOnlySpan<byte>)[0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
        {
            return "image/png";
        }

        if (content.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xD8, 0xFF]))
        {
            return "image/jpeg";
        }

        if (content.Length >= 12 && content.StartsWith("RIFF"u8) && content.Slice(8, 4).SequenceEqual("WEBP"u8))
        {
            return "image/webp";
        }

        return null;
    }

    private static async Task<byte[]?> ReadCappedAsync(Stream body, CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > MaxBytes)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    public sealed record Response(string LogoUrl, string ContentType, int Bytes);
}
