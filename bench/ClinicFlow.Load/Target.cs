using System.Net;

namespace ClinicFlow.Load;

/// <summary>
/// One endpoint under load, named <see cref="Short"/> in ratios. A GET target rotates through its
/// paths (one path for a fixed endpoint, many for a search over varying terms); a target built from
/// a factory makes each request itself (a POST with its own body) and may run out of requests.
/// Answers with a status in <see cref="Accepted"/> count; anything else is an error.
/// </summary>
internal sealed class Target
{
    private readonly string[] _paths;
    private readonly string? _authorization;
    private readonly Func<long, HttpRequestMessage?>? _factory;
    private readonly (string Name, string Value)[] _headers = [];

    // Every answer of the whole run by status (pre-check and warm-up included), for checks against the database.
    private readonly long[] _seen = new long[600];

    public Target(string label, string shortName, string[] paths, string? authorization, int[]? accepted = null,
        (string Name, string Value)[]? headers = null)
    {
        ArgumentNullException.ThrowIfNull(paths);
        Label = label;
        Short = shortName;
        _paths = paths;
        _authorization = authorization;
        Accepted = accepted ?? [200];
        _headers = headers ?? [];
    }

    public Target(string label, string shortName, string path, string? authorization)
        : this(label, shortName, [path], authorization)
    {
    }

    public Target(string label, string shortName, string description, Func<long, HttpRequestMessage?> factory, int[] accepted)
    {
        Label = label;
        Short = shortName;
        _paths = [description];
        _factory = factory;
        Accepted = accepted;
    }

    public string Label { get; }

    public string Short { get; }

    /// <summary>Statuses that count as answered requests, in the order a report lists them.</summary>
    public int[] Accepted { get; } = [200];

    /// <summary>How many requests the check before the run sends: every path of a GET target, one otherwise.</summary>
    public int PreflightCount => _factory is null ? _paths.Length : 1;

    public string Describe(long sequence) => _paths[(int)(sequence % _paths.Length)];

    /// <summary>The request number <paramref name="sequence"/>, or null when the target has no more requests to send.</summary>
    public HttpRequestMessage? NewRequest(long sequence = 0)
    {
        if (_factory is not null)
        {
            return _factory(sequence);
        }

        var request = new HttpRequestMessage(HttpMethod.Get, Describe(sequence)) { Version = HttpVersion.Version11 };
        if (_authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", _authorization);
        }

        foreach (var (name, value) in _headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return request;
    }

    public bool Accepts(int status) => Array.IndexOf(Accepted, status) >= 0;

    public void Observe(int status) => Interlocked.Increment(ref _seen[Math.Clamp(status, 0, _seen.Length - 1)]);

    public long Seen(int status) => Interlocked.Read(ref _seen[Math.Clamp(status, 0, _seen.Length - 1)]);

    public long SeenOther() => Enumerable.Range(0, _seen.Length).Where(s => !Accepts(s)).Sum(Seen);

    /// <summary>The statuses outside <see cref="Accepted"/> seen over the whole run, as "500 × 2, 503 × 1" (0: no answer).</summary>
    public string OtherStatuses() => string.Join(", ", Enumerable.Range(0, _seen.Length)
        .Where(s => !Accepts(s) && Seen(s) > 0)
        .Select(s => FormattableString.Invariant($"{s} × {Seen(s)}")));
}
