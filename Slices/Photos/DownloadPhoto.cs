using System.Buffers;
using System.Data;
using System.Globalization;
using Carter;
using ClinicFlow.Infrastructure;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace ClinicFlow.Slices.Photos;

/// <summary>
/// GET /api/photos/{id}/download: the ciphertext, streamed chunk by chunk from the database to the
/// response (memory stays at one copy buffer), with the key envelope in <c>X-Key-Envelope</c>, an
/// <c>ETag</c> (the ciphertext's SHA-256; <c>If-None-Match</c> answers 304) and single byte ranges (206).
/// </summary>
public sealed class DownloadPhoto : ICarterModule
{
    public const string EnvelopeHeader = "X-Key-Envelope";

    public const string MimeTypeHeader = "X-Original-Mime-Type";

    private const string PhotoSql = """
        select ph.size_bytes, ph.chunk_bytes, encode(ph.sha256, 'hex') as sha256, ph.mime_type, ph.key_envelope
        from photos ph
        join patients p on p.clinic_id = ph.clinic_id and p.id = ph.patient_id and p.erased_at is null
        where ph.clinic_id = @ClinicId and ph.id = @Id
        """;

    private const string ChunksSql = """
        select data from photo_chunks
        where clinic_id = $1 and photo_id = $2 and seq between $3 and $4
        order by seq
        """;

    private sealed record Photo(long SizeBytes, int ChunkBytes, string Sha256, string MimeType, string KeyEnvelope);

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/photos")
            .MapGet("/{id:guid}/download", Handle)
            .RequireDoctorOrAdmin()
            .UsesLargePool()
            .WithName(nameof(DownloadPhoto))
            .WithSummary("Download a photo's ciphertext (streamed; key envelope in X-Key-Envelope; ETag; byte ranges)")
            .Produces<Stream>(StatusCodes.Status200OK, "application/octet-stream")
            .Produces<Stream>(StatusCodes.Status206PartialContent, "application/octet-stream")
            .Produces(StatusCodes.Status304NotModified);

    private static async Task<Results<EmptyHttpResult, ApiProblem>> Handle(Guid id, Tenant tenant, CancellationToken ct)
    {
        var photo = await tenant.QuerySingleOrDefaultAsync<Photo>(PhotoSql, new { tenant.ClinicId, Id = id }, ct);
        if (photo is null)
        {
            return ApiProblem.NotFound();
        }

        var http = tenant.Http;
        var response = http.Response;
        response.Headers.CacheControl = "private, no-cache";
        response.Headers[EnvelopeHeader] = photo.KeyEnvelope;
        response.Headers[MimeTypeHeader] = photo.MimeType;
        response.Headers.AcceptRanges = "bytes";
        if (Rendered.NotModified(http, photo.Sha256))
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return TypedResults.Empty;
        }

        var (from, to) = (0L, photo.SizeBytes - 1);
        if (RangeOf(http.Request, photo.SizeBytes) is { } range)
        {
            (from, to) = range;
            response.StatusCode = StatusCodes.Status206PartialContent;
            response.Headers.ContentRange = $"bytes {from}-{to}/{photo.SizeBytes}";
        }

        response.ContentType = "application/octet-stream";
        response.ContentLength = to - from + 1;
        await CopyAsync(tenant, id, photo.ChunkBytes, from, to, response.Body, ct);
        return TypedResults.Empty;
    }

    /// <summary>One satisfiable range of bytes=a-b, a- or -n; anything else (several ranges, unsatisfiable, malformed) serves the whole file.</summary>
    private static (long From, long To)? RangeOf(HttpRequest request, long size)
    {
        var header = request.GetTypedHeaders().Range;
        if (header is null || !"bytes".Equals(header.Unit.Value, StringComparison.OrdinalIgnoreCase) || header.Ranges.Count != 1)
        {
            return null;
        }

        var r = header.Ranges.First();
        (long From, long To) span = (r.From, r.To) switch
        {
            ({ } a, { } b) => (a, Math.Min(b, size - 1)),
            ({ } a, null) => (a, size - 1),
            (null, { } n) => (Math.Max(0, size - n), size - 1),
            _ => (-1, -1),
        };
        return span.From >= 0 && span.From <= span.To && span.From < size ? span : null;
    }

    /// <summary>Reads only the chunks covering [from, to] and writes each through a pooled buffer, never a whole chunk array.</summary>
    private static async Task CopyAsync(Tenant tenant, Guid id, int chunkBytes, long from, long to, Stream output, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(ChunksSql, await tenant.ConnectionAsync(ct), tenant.Transaction);
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = tenant.ClinicId });
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = (int)(from / chunkBytes) });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = (int)(to / chunkBytes) });
        await using var reader = await command.ExecuteReaderAsync(CommandBehavior.SequentialAccess, ct);
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            var skip = from % chunkBytes;
            var left = to - from + 1;
            while (left > 0 && await reader.ReadAsync(ct))
            {
                await using var chunk = await reader.GetStreamAsync(0, ct);
                int read;
                while (left > 0 && (read = await chunk.ReadAsync(buffer, ct)) > 0)
                {
                    var start = (int)Math.Min(skip, read);
                    skip -= start;
                    var count = (int)Math.Min(read - start, left);
                    if (count > 0)
                    {
                        await output.WriteAsync(buffer.AsMemory(start, count), ct);
                        left -= count;
                    }
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
