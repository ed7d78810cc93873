using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;

namespace ClinicFlow.Infrastructure;

/// <summary>One group of SPEC §2's rate-limit table, bound from RateLimits:&lt;Group&gt;.</summary>
public sealed class RateLimitGroup
{
    public int PermitLimit { get; set; }

    public int WindowSeconds { get; set; }
}

/// <summary>
/// The per-IP limits of SPEC §2 on the built-in limiter. Counts are per instance: behind N
/// instances the effective limit is N times the configured one (docs/scaling.md).
/// </summary>
public static class RateLimits
{
    public const string General = "General";
    public const string Register = "Register";
    public const string Demo = "Demo";
    public const string Ics = "Ics";
    public const string PublicLinks = "PublicLinks";

    /// <summary>Login, quick switch, reset confirm and superadmin keys: only failed attempts count.</summary>
    public const string FailedAuth = "FailedAuth";

    private static readonly Dictionary<string, (int Permits, int Seconds)> Defaults = new()
    {
        [FailedAuth] = (10, 15 * 60),
        [Register] = (5, 60),
        [Demo] = (5, 60 * 60),
        [Ics] = (30, 15 * 60),
        [PublicLinks] = (30, 15 * 60),
        [General] = (100, 15 * 60),
    };

    public static IServiceCollection AddClinicRateLimits(this IServiceCollection services)
    {
        foreach (var (name, (permits, seconds)) in Defaults)
        {
            services.AddOptions<RateLimitGroup>(name)
                .Configure(g => (g.PermitLimit, g.WindowSeconds) = (permits, seconds))
                .BindConfiguration($"RateLimits:{name}")
                .Validate(g => g.PermitLimit > 0 && g.WindowSeconds > 0, $"RateLimits:{name} needs a positive PermitLimit and WindowSeconds.")
                .ValidateOnStart();
        }

        services.AddSingleton<FailedAttemptLimiter>();
        services.AddRateLimiter(options =>
        {
            options.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            options.OnRejected = (context, _) =>
            {
                var policy = context.HttpContext.GetEndpoint()?.Metadata.GetMetadata<Microsoft.AspNetCore.RateLimiting.EnableRateLimitingAttribute>()?.PolicyName;
                Telemetry.RateLimitRejections.Add(1, new KeyValuePair<string, object?>("policy", policy ?? "unknown"));
                if (context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter))
                {
                    SetRetryAfter(context.HttpContext, retryAfter);
                }

                return new ValueTask(ErrorWriter.WriteAsync(context.HttpContext, StatusCodes.Status429TooManyRequests, ErrorCodes.RateLimited));
            };
            foreach (var name in Defaults.Keys.Where(n => n != FailedAuth))
            {
                options.AddPolicy(name, http =>
                {
                    var group = http.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptionsMonitor<RateLimitGroup>>().Get(name);
                    return RateLimitPartition.GetFixedWindowLimiter(http.ClientIp(), _ => Window(group));
                });
            }
        });
        return services;
    }

    internal static FixedWindowRateLimiterOptions Window(RateLimitGroup group) => new()
    {
        PermitLimit = group.PermitLimit,
        Window = TimeSpan.FromSeconds(group.WindowSeconds),
        QueueLimit = 0,
        AutoReplenishment = true,
    };

    internal static void SetRetryAfter(HttpContext http, TimeSpan retryAfter) =>
        http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);

    /// <summary>Refuses a caller whose failed attempts used up the FailedAuth window; the handler reports failures.</summary>
    public static TBuilder LimitFailedAttempts<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter(async (context, next) =>
        {
            var limiter = context.HttpContext.RequestServices.GetRequiredService<FailedAttemptLimiter>();
            return limiter.IsBlocked(context.HttpContext) ? RateLimitedResult() : await next(context);
        }).ProducesErrors(StatusCodes.Status429TooManyRequests);

    private static ApiProblem RateLimitedResult() => ApiProblem.Of(StatusCodes.Status429TooManyRequests, ErrorCodes.RateLimited);
}

/// <summary>
/// Counts failed authentication attempts per client IP with the built-in fixed-window limiter:
/// a failure takes a permit, a success takes none, and an empty window blocks the IP.
/// </summary>
public sealed class FailedAttemptLimiter : IDisposable
{
    private readonly PartitionedRateLimiter<string> _limiter;

    public FailedAttemptLimiter(Microsoft.Extensions.Options.IOptionsMonitor<RateLimitGroup> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var group = options.Get(RateLimits.FailedAuth);
        _limiter = PartitionedRateLimiter.Create<string, string>(ip =>
            RateLimitPartition.GetFixedWindowLimiter(ip, _ => RateLimits.Window(group)));
    }

    public bool IsBlocked(HttpContext http)
    {
        ArgumentNullException.ThrowIfNull(http);
        using var probe = _limiter.AttemptAcquire(http.ClientIp(), 0);
        if (probe.IsAcquired)
        {
            return false;
        }

        if (probe.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter))
        {
            RateLimits.SetRetryAfter(http, retryAfter);
        }

        Telemetry.RateLimitRejections.Add(1, new KeyValuePair<string, object?>("policy", RateLimits.FailedAuth));
        return true;
    }

    public void RecordFailure(HttpContext http)
    {
        ArgumentNullException.ThrowIfNull(http);
        using var _ = _limiter.AttemptAcquire(http.ClientIp(), 1);
    }

    public void Dispose() => _limiter.Dispose();
}
