using System.Collections.Concurrent;
using System.Net;
using System.Text;
using ClinicFlow.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace ClinicFlow.Tests.Platform;

/// <summary>
/// Traces and metrics leave over OTLP/HTTP to a local collector fake: request and SQL spans (the
/// statement, never a parameter value), request, outbox and rate-limit metrics; nothing without an endpoint.
/// </summary>
public sealed class TelemetryTests(AppFixture app) : ApiTest(app)
{
    [Fact]
    public async Task Exports_request_and_sql_spans_and_the_service_metrics_to_the_collector()
    {
        await using var collector = await OtlpCollector.StartAsync();
        var isolated = await App.StartIsolatedAsync(new Dictionary<string, string?>
        {
            ["OpenTelemetry:Endpoint"] = collector.BaseUrl,
            ["RateLimits:Demo:PermitLimit"] = "1",
        });
        var admin = await RegisterClinicAsync(host: isolated.Host);
        await isolated.Host.Scenario(s =>
        {
            s.Get.Url("/api/auth/me");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBeOk();
        });
        var demo = new { name = "Dora Demo", email = NewEmail("demo"), clinicName = "Demo", phone = "+5491155550000", country = "AR", message = "hola" };
        await isolated.Host.Scenario(s =>
        {
            s.Post.Json(demo).ToUrl("/api/demo-requests");
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        await isolated.Host.Scenario(s =>
        {
            s.Post.Json(demo).ToUrl("/api/demo-requests");
            s.StatusCodeShouldBe(HttpStatusCode.TooManyRequests);
        });

        var tracer = isolated.Host.Services.GetRequiredService<TracerProvider>();
        var meter = isolated.Host.Services.GetRequiredService<MeterProvider>();
        Assert.True(tracer.ForceFlush(10_000));
        Assert.True(meter.ForceFlush(10_000));
        // The SQL spans come from a process-wide source: stop listening now, not when the run ends.
        tracer.Dispose();
        meter.Dispose();

        var traces = collector.Text("/v1/traces");
        Assert.Contains("GET /api/auth/me", traces, StringComparison.Ordinal);
        Assert.Contains("set_config('app.clinic_id'", traces, StringComparison.Ordinal);
        Assert.Contains("clinicflow", traces, StringComparison.Ordinal);
        // Statement text only: the values a request sent never reach the collector.
        Assert.DoesNotContain(admin.Email, traces, StringComparison.Ordinal);
        Assert.DoesNotContain(demo.email, traces, StringComparison.Ordinal);
        Assert.DoesNotContain(admin.Token, traces, StringComparison.Ordinal);
        Assert.DoesNotContain("/health/", traces, StringComparison.Ordinal);

        var metrics = collector.Text("/v1/metrics");
        Assert.Contains("http.server.request.duration", metrics, StringComparison.Ordinal);
        Assert.Contains("clinicflow.outbox.backlog", metrics, StringComparison.Ordinal);
        Assert.Contains("clinicflow.outbox.oldest_due_age", metrics, StringComparison.Ordinal);
        Assert.Contains("clinicflow.rate_limit.rejections", metrics, StringComparison.Ordinal);
        Assert.Contains("Demo", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Registers_no_exporter_without_an_endpoint()
    {
        var me = await Host.Scenario(s => s.Get.Url("/health/live"));

        Assert.Equal(200, me.Context.Response.StatusCode);
        Assert.Null(Host.Services.GetService<TracerProvider>());
        Assert.Null(Host.Services.GetService<MeterProvider>());
    }

    /// <summary>A local OTLP/HTTP receiver: keeps the protobuf bodies posted to /v1/traces and /v1/metrics.</summary>
    private sealed class OtlpCollector : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly ConcurrentQueue<(string Path, byte[] Body)> _posts = new();

        private OtlpCollector(WebApplication app) => _app = app;

        public string BaseUrl { get; private set; } = "";

        public static async Task<OtlpCollector> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            var app = builder.Build();
            var collector = new OtlpCollector(app);
            app.MapPost("/v1/{signal}", async (HttpContext http) =>
            {
                using var body = new MemoryStream();
                await http.Request.Body.CopyToAsync(body);
                collector._posts.Enqueue((http.Request.Path.Value!, body.ToArray()));
                http.Response.ContentType = "application/x-protobuf";
                return Results.Bytes([], "application/x-protobuf");
            });
            await app.StartAsync();
            collector.BaseUrl = app.Urls.First().TrimEnd('/');
            return collector;
        }

        /// <summary>Every body posted to <paramref name="path"/>; protobuf keeps strings as UTF-8 bytes.</summary>
        public string Text(string path) =>
            string.Join('\n', _posts.Where(p => p.Path == path).Select(p => Encoding.UTF8.GetString(p.Body)));

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
