using Microsoft.Extensions.Caching.Memory;
using Microsoft.Net.Http.Headers;

namespace ClinicFlow.Infrastructure;

/// <summary>
/// Responses that clients poll (a doctor's ICS feed, a clinic's day): an entity tag that names
/// everything the body is made of, <c>If-None-Match</c> answered with 304, and the body itself kept
/// in memory, so an unchanged resource is neither re-read nor re-written. A tag must change with
/// every byte of its body (a version the database raises on every change, plus every request
/// parameter that shapes the answer), and a body is kept under its tag or beside the version it was
/// written for: then it can never be served for other content.
/// </summary>
public static class Rendered
{
    // Bounded in bytes; per instance (another instance renders its own copy).
    private const long CacheBytes = 64L * 1024 * 1024;

    private static readonly MemoryCache Bodies = new(new MemoryCacheOptions { SizeLimit = CacheBytes });

    // The doorkeeper: the hash of the last key asked for in each slot. A body is kept from the second
    // ask on, so pages asked for once (a search through the past, a window never polled) do not push
    // polled ones out or fill the heap. Races and collisions only ever keep a page early: harmless.
    private static readonly int[] Asked = new int[1 << 16];

    /// <summary>
    /// Sets the response's <c>ETag</c> to <paramref name="etag"/> (quoted) and tells whether the
    /// request's <c>If-None-Match</c> names it or is <c>*</c> (weak comparison), so the answer is 304.
    /// </summary>
    public static bool NotModified(HttpContext http, string etag)
    {
        ArgumentNullException.ThrowIfNull(http);
        var current = Quoted(etag);
        http.Response.GetTypedHeaders().ETag = current;
        return Matches(http.Request.GetTypedHeaders().IfNoneMatch, current);
    }

    /// <summary>Whether <paramref name="candidates"/> (an <c>If-None-Match</c>) names <paramref name="etag"/> (unquoted) or is <c>*</c>.</summary>
    public static bool Matches(IList<EntityTagHeaderValue>? candidates, string etag) =>
        candidates is { Count: > 0 } && Matches(candidates, Quoted(etag));

    private static bool Matches(IList<EntityTagHeaderValue>? candidates, EntityTagHeaderValue current) =>
        candidates is { Count: > 0 }
        && candidates.Any(c => c.Equals(EntityTagHeaderValue.Any) || c.Compare(current, useStrongComparison: false));

    private static EntityTagHeaderValue Quoted(string etag) => new($"\"{etag}\"");

    /// <summary>
    /// Whether <paramref name="key"/> was asked for recently (then what it names is worth keeping);
    /// notes the ask either way.
    /// </summary>
    public static bool AskedBefore(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var hash = key.GetHashCode(StringComparison.Ordinal);
        ref var slot = ref Asked[hash & (Asked.Length - 1)];
        if (Volatile.Read(ref slot) == hash)
        {
            return true;
        }

        Volatile.Write(ref slot, hash);
        return false;
    }

    /// <summary>What is kept under <paramref name="key"/>, or null.</summary>
    public static T? Get<T>(string key) where T : class => Bodies.TryGetValue(key, out T? kept) ? kept : null;

    /// <summary>
    /// Keeps <paramref name="value"/> (a body, or a body with the version it was written for) under
    /// <paramref name="key"/>, a key prefixed with the resource's name; <paramref name="bytes"/> counts
    /// against the bound.
    /// </summary>
    public static void Keep(string key, object value, long bytes)
    {
        ArgumentNullException.ThrowIfNull(value);
        Bodies.Set(key, value, new MemoryCacheEntryOptions
        {
            Size = bytes,
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
