using Microsoft.Extensions.Caching.Memory;
using Microsoft.Net.Http.Headers;

namespace ClinicFlow.Infrastructure;

/// <summary>
/// Responses that clients poll (a doctor's ICS feed, a clinic's day): an entity tag that names
/// everything the body is made of, <c>If-None-Match</c> answered with 304, and the body itself kept
/// under that tag, so an unchanged resource is neither re-read nor re-written. A tag must change with
/// every byte of its body (a version the database raises on every change, plus every request
/// parameter that shapes the answer): then an entry can never be served for other content.
/// </summary>
public static class Rendered
{
    // Bounded in bytes; per instance (another instance renders its own copy).
    private const long CacheBytes = 64L * 1024 * 1024;

    private static readonly MemoryCache Bodies = new(new MemoryCacheOptions { SizeLimit = CacheBytes });

    /// <summary>
    /// Sets the response's <c>ETag</c> to <paramref name="etag"/> (quoted) and tells whether the
    /// request's <c>If-None-Match</c> names it or is <c>*</c> (weak comparison), so the answer is 304.
    /// </summary>
    public static bool NotModified(HttpContext http, string etag)
    {
        ArgumentNullException.ThrowIfNull(http);
        var current = new EntityTagHeaderValue($"\"{etag}\"");
        http.Response.GetTypedHeaders().ETag = current;
        return Matches(http.Request.GetTypedHeaders().IfNoneMatch, current);
    }

    /// <summary>Whether <paramref name="candidates"/> (an <c>If-None-Match</c>) names <paramref name="current"/> or is <c>*</c>.</summary>
    public static bool Matches(IList<EntityTagHeaderValue>? candidates, EntityTagHeaderValue current) =>
        candidates is { Count: > 0 }
        && candidates.Any(c => c.Equals(EntityTagHeaderValue.Any) || c.Compare(current, useStrongComparison: false));

    /// <summary>The body kept under <paramref name="key"/>, or null.</summary>
    public static byte[]? Get(string key) => Bodies.TryGetValue(key, out byte[]? body) ? body : null;

    /// <summary>Keeps <paramref name="body"/> under <paramref name="key"/> (a tag as above, with a prefix naming the resource).</summary>
    public static void Keep(string key, byte[] body)
    {
        ArgumentNullException.ThrowIfNull(body);
        Bodies.Set(key, body, new MemoryCacheEntryOptions
        {
            Size = body.Length,
            SlidingExpiration = TimeSpan.FromHours(6),
            AbsoluteExpirationRelativeToNow = TimeSpan.FromDays(1),
        });
    }

    /// <summary>Writes <paramref name="body"/> as the whole response with its length.</summary>
    public static Task WriteAsync(HttpContext http, byte[] body, string contentType, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(body);
        http.Response.ContentType = contentType;
        http.Response.ContentLength = body.Length;
        return http.Response.Body.WriteAsync(body, ct).AsTask();
    }
}
