using System.Numerics;

namespace ClinicFlow.Load;

/// <summary>
/// Latencies in microseconds, counted in log-linear buckets as HdrHistogram does: exact below
/// 128 µs, then 128 buckets per power of two (under 0.8 % relative error). Fixed size, allocated
/// once, so recording never allocates; one per worker, merged after the run.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int SubBucketBits = 7;
    private const int SubBuckets = 1 << SubBucketBits;

    // 2^40 µs is about 12 days: every latency a bounded run can see.
    private const int MaxMagnitude = 40;

    private readonly long[] _counts = new long[(MaxMagnitude - SubBucketBits + 2) * SubBuckets];

    public long Count { get; private set; }

    public long MaxMicros { get; private set; }

    public void Record(TimeSpan latency)
    {
        var micros = Math.Clamp(latency.Ticks / TimeSpan.TicksPerMicrosecond, 0, (1L << MaxMagnitude) - 1);
        _counts[IndexOf(micros)]++;
        Count++;
        MaxMicros = Math.Max(MaxMicros, micros);
    }

    public void Add(LatencyHistogram other)
    {
        ArgumentNullException.ThrowIfNull(other);
        for (var i = 0; i < _counts.Length; i++)
        {
            _counts[i] += other._counts[i];
        }

        Count += other.Count;
        MaxMicros = Math.Max(MaxMicros, other.MaxMicros);
    }

    /// <summary>The smallest recorded value at or below which <paramref name="percentile"/> % of the values lie (bucket's upper edge).</summary>
    public double PercentileMillis(double percentile)
    {
        if (Count == 0)
        {
            return double.NaN;
        }

        var rank = Math.Max(1, (long)Math.Ceiling(percentile / 100 * Count));
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
            {
                return Math.Min(HighestEquivalent(i), MaxMicros) / 1000.0;
            }
        }

        return MaxMicros / 1000.0;
    }

    private static int IndexOf(long micros)
    {
        if (micros < SubBuckets)
        {
            return (int)micros;
        }

        var shift = 63 - BitOperations.LeadingZeroCount((ulong)micros) - SubBucketBits;
        return ((shift + 1) * SubBuckets) + (int)((micros >> shift) - SubBuckets);
    }

    private static long HighestEquivalent(int index)
    {
        if (index < SubBuckets)
        {
            return index;
        }

        var shift = (index / SubBuckets) - 1;
        var sub = (index % SubBuckets) + SubBuckets;
        return ((long)(sub + 1) << shift) - 1;
    }
}
