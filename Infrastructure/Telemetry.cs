using System.Diagnostics.Metrics;
using Dapper;
using Npgsql;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace ClinicFlow.Infrastructure;

/// <summary>OpenTelemetry: where traces and metrics go; off unless an OTLP endpoint is configured.</summary>
public sealed class TelemetryOptions
{
    /// <summary>
    /// The collector's base address (http://collector:4318 for OTLP over HTTP, :4317 for gRPC); the
    /// standard OTEL_EXPORTER_OTLP_ENDPOINT variable is read when this is not set.
    /// </summary>
    public string? Endpoint { get; set; }

    /// <summary>http/protobuf (default) or grpc.</summary>
    public string Protocol { get; set; } = "http/protobuf";

    public string ServiceName { get; set; } = "clinicflow";

    /// <summary>How often metrics are exported.</summary>
    public int MetricExportIntervalMilliseconds { get; set; } = 15_000;
}

/// <summary>
/// Spans for requests and SQL (statement text, never parameter values), metrics for requests, the
/// connection pool, the outbox backlog and the age of its oldest due message, and rate-limit
/// rejections, exported over OTLP. The service's own instruments live on one meter.
/// </summary>
public static class Telemetry
{
    public const string MeterName = "ClinicFlow";

    public static readonly Meter Meter = new(MeterName);

    /// <summary>Requests refused by a rate limit, tagged with the limit's policy.</summary>
    public static readonly Counter<long> RateLimitRejections = Meter.CreateCounter<long>(
        "clinicflow.rate_limit.rejections", "{request}", "Requests refused by a rate limit");

    public static IServiceCollection AddClinicTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        var options = configuration.GetSection("OpenTelemetry").Get<TelemetryOptions>() ?? new TelemetryOptions();
        options.Endpoint ??= configuration["OTEL_EXPORTER_OTLP_ENDPOINT"];
        if (string.IsNullOrWhiteSpace(options.Endpoint))
        {
            return services;
        }

        services.AddSingleton<OutboxBacklog>();

        var grpc = string.Equals(options.Protocol, "grpc", StringComparison.OrdinalIgnoreCase);
        var baseUrl = options.Endpoint.TrimEnd('/');
        void Exporter(OtlpExporterOptions o, string signal)
        {
            o.Protocol = grpc ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf;
            // Set in code, the address is used as given: name the signal's path for OTLP over HTTP.
            o.Endpoint = new Uri(grpc ? baseUrl : $"{baseUrl}/v1/{signal}");
        }

        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(options.ServiceName))
            .WithTracing(tracing => tracing
                .AddAspNetCoreInstrumentation(o => o.Filter = http => !http.Request.Path.StartsWithSegments("/health"))
                .AddNpgsql()
                .AddOtlpExporter(o => Exporter(o, "traces")))
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddMeter("Npgsql", MeterName)
                .AddInstrumentation(sp => sp.GetRequiredService<OutboxBacklog>())
                .AddOtlpExporter((o, reader) =>
                {
                    Exporter(o, "metrics");
                    reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = options.MetricExportIntervalMilliseconds;
                }));
        return services;
    }
}

/// <summary>
/// The outbox's backlog as two gauges: due messages not yet sent, and how long the oldest has been due.
/// Read with one query when an exporter collects, at most every few seconds, never per request.
/// </summary>
public sealed class OutboxBacklog
{
    private const string Sql = """
        select count(*) as due, coalesce(extract(epoch from now() - min(next_attempt_at)), 0)::float8 as oldest_seconds
        from outbox_messages
        where status in ('pending', 'sending') and next_attempt_at <= now()
        """;

    private readonly NpgsqlDataSource _db;
    private readonly Lock _gate = new();
    private (long Due, double OldestSeconds) _last;
    private DateTime _readAt = DateTime.MinValue;

    public OutboxBacklog(NpgsqlDataSource db)
    {
        _db = db;
        Telemetry.Meter.CreateObservableGauge("clinicflow.outbox.backlog", () => Read().Due, "{message}",
            "Outbox messages due and not yet sent");
        Telemetry.Meter.CreateObservableGauge("clinicflow.outbox.oldest_due_age", () => Read().OldestSeconds, "s",
            "How long the oldest unsent due outbox message has been due");
    }

    public (long Due, double OldestSeconds) Read()
    {
        lock (_gate)
        {
            if (DateTime.UtcNow - _readAt < TimeSpan.FromSeconds(5))
            {
                return _last;
            }

            try
            {
                // The exporter's collection thread asks synchronously; one short query every few seconds.
                _last = QueryAsync().GetAwaiter().GetResult();
            }
            catch (Exception e) when (Database.IsUnavailable(e))
            {
                // keep the last reading; the pool and request metrics show the outage
            }

            _readAt = DateTime.UtcNow;
            return _last;
        }
    }

    private async Task<(long Due, double OldestSeconds)> QueryAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        await using var system = await SystemConnection.BeginAsync(_db, timeout.Token);
        var row = await system.Connection.QuerySingleAsync<(long Due, double OldestSeconds)>(
            new CommandDefinition(Sql, transaction: system.Transaction, cancellationToken: timeout.Token));
        await system.Transaction.CommitAsync(timeout.Token);
        return row;
    }
}
