using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace ClinicFlow.Load;

/// <summary>
/// One endpoint under load, named <see cref="Short"/> in ratios. Requests rotate through
/// <see cref="Paths"/> (one path for a fixed endpoint, many for a search over varying terms);
/// <see cref="Authorization"/> is sent verbatim when set.
/// </summary>
internal sealed record Target(string Label, string Short, string[] Paths, string? Authorization)
{
    public Target(string label, string shortName, string path, string? authorization)
        : this(label, shortName, [path], authorization)
    {
    }

    public HttpRequestMessage NewRequest(long sequence = 0)
    {
        var path = Paths[(int)(sequence % Paths.Length)];
        var request = new HttpRequestMessage(HttpMethod.Get, path) { Version = HttpVersion.Version11 };
        if (Authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", Authorization);
        }

        return request;
    }
}

/// <summary>What one slice (or the sum of a target's slices) measured.</summary>
internal sealed class Measurement
{
    public LatencyHistogram Latencies { get; } = new();

    public long Errors { get; set; }

    public TimeSpan Elapsed { get; set; }

    public string? FirstError { get; set; }

    public double RequestsPerSecond => Latencies.Count / Elapsed.TotalSeconds;

    public void Add(Measurement other)
    {
        Latencies.Add(other.Latencies);
        Errors += other.Errors;
        Elapsed += other.Elapsed;
        FirstError ??= other.FirstError;
    }
}

/// <summary>
/// Closed-loop load: each worker sends one request, reads the whole answer, records its latency
/// and sends the next, until the slice's deadline. Only 200 answers count as requests; anything
/// else is an error. Both targets share one connection pool, warmed up before measuring.
/// </summary>
internal static class LoadRun
{
    private const string Password = "correct horse battery";

    public static async Task<int> RunAsync(LoadOptions options, TextWriter output, TextWriter progress, CancellationToken ct)
    {
        using var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            MaxConnectionsPerServer = options.Concurrency,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            ConnectTimeout = TimeSpan.FromSeconds(5),
        };
        using var client = new HttpClient(handler) { BaseAddress = options.Url, Timeout = TimeSpan.FromSeconds(10) };

        // The first target is the baseline, the second the one measured against it.
        Target[] targets;
        if (options.Scenario == "patients")
        {
            var authorization = "Bearer " + options.Token;
            var searches = options.SearchTerms
                .Select(t => "/api/patients?q=" + Uri.EscapeDataString(t) + "&limit=20")
                .ToArray();
            targets =
            [
                new("GET /api/patients/{id}", "get", "/api/patients/" + options.PatientId.ToString("D"), authorization),
                new("GET /api/patients?q=…&limit=20", "search", searches, authorization),
            ];
        }
        else
        {
            var token = await RegisterAsync(client, progress, ct);
            if (token is null)
            {
                return 1;
            }

            targets =
            [
                new("GET /health/ready", "ready", "/health/ready", null),
                new("GET /api/auth/me", "me", "/api/auth/me", "Bearer " + token),
            ];
        }

        foreach (var target in targets)
        {
            for (var i = 0; i < target.Paths.Length; i++)
            {
                if (!await AnswersOkAsync(client, target, i, progress, ct))
                {
                    return 1;
                }
            }
        }

        if (options.WarmupSeconds > 0)
        {
            progress.WriteLine(Invariant($"warm-up: {options.WarmupSeconds} s, {options.Concurrency} workers"));
            var half = TimeSpan.FromSeconds(options.WarmupSeconds / 2.0);
            foreach (var target in targets)
            {
                await RunSliceAsync(client, target, options.Concurrency, half, ct);
            }
        }

        var totals = targets.Select(_ => new Measurement()).ToArray();
        var rounds = new List<Measurement[]>();
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var wall = Stopwatch.StartNew();
        for (var round = 0; round < options.Rounds; round++)
        {
            // ABBA order: a slow drift of the machine weighs on both targets alike.
            int[] order = round % 2 == 0 ? [0, 1] : [1, 0];
            var row = new Measurement[targets.Length];
            foreach (var i in order)
            {
                var slice = await RunSliceAsync(client, targets[i], options.Concurrency, options.Slice, ct);
                row[i] = slice;
                totals[i].Add(slice);
                progress.WriteLine(Invariant(
                    $"round {round + 1}/{options.Rounds} {targets[i].Label}: {slice.RequestsPerSecond:F0} req/s, p99 {slice.Latencies.PercentileMillis(99):F2} ms, {slice.Errors} errors"));
            }

            rounds.Add(row);
        }

        var cores = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore) / wall.Elapsed;
        output.Write(Report(options, targets, totals, rounds, cores));
        foreach (var (target, total) in targets.Zip(totals))
        {
            if (total.FirstError is not null)
            {
                progress.WriteLine(Invariant($"{target.Label}: first error: {total.FirstError}"));
            }
        }

        return totals.Any(t => t.Errors > 0) ? 3 : 0;
    }

    private static async Task<string?> RegisterAsync(HttpClient client, TextWriter progress, CancellationToken ct)
    {
        var email = $"load-{Guid.NewGuid():N}@bench.invalid";
        using var response = await client.PostAsJsonAsync("/api/auth/register", new
        {
            email,
            password = Password,
            fullName = "Load Bench",
            clinicName = "Load Bench Clinic",
            country = "AR",
        }, ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        if (!response.IsSuccessStatusCode)
        {
            progress.WriteLine(Invariant($"POST /api/auth/register answered {(int)response.StatusCode}: {body}"));
            return null;
        }

        using var json = JsonDocument.Parse(body);
        return json.RootElement.GetProperty("token").GetString();
    }

    private static async Task<bool> AnswersOkAsync(HttpClient client, Target target, long sequence, TextWriter progress, CancellationToken ct)
    {
        using var request = target.NewRequest(sequence);
        using var response = await client.SendAsync(request, ct);
        if (response.StatusCode == HttpStatusCode.OK)
        {
            return true;
        }

        var body = await response.Content.ReadAsStringAsync(ct);
        progress.WriteLine(Invariant($"{target.Paths[sequence % target.Paths.Length]} answered {(int)response.StatusCode} before the run: {body}"));
        return false;
    }

    private static async Task<Measurement> RunSliceAsync(HttpClient client, Target target, int concurrency, TimeSpan duration, CancellationToken ct)
    {
        var workers = new Measurement[concurrency];
        var tasks = new Task[concurrency];
        var start = Stopwatch.GetTimestamp();
        var deadline = start + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        for (var i = 0; i < concurrency; i++)
        {
            var worker = workers[i] = new Measurement();
            var first = i;
            tasks[i] = Task.Run(() => WorkAsync(client, target, first, deadline, worker, ct), ct);
        }

        await Task.WhenAll(tasks);

        // Requests started before the deadline finish after it: divide by the time until the last did.
        var result = new Measurement { Elapsed = Stopwatch.GetElapsedTime(start) };
        foreach (var worker in workers)
        {
            result.Latencies.Add(worker.Latencies);
            result.Errors += worker.Errors;
            result.FirstError ??= worker.FirstError;
        }

        return result;
    }

    private static async Task WorkAsync(HttpClient client, Target target, long sequence, long deadline, Measurement into, CancellationToken ct)
    {
        // Each worker starts at its own path, so concurrent requests ask for different ones.
        var buffer = new byte[16 * 1024];
        while (Stopwatch.GetTimestamp() < deadline)
        {
            ct.ThrowIfCancellationRequested();
            var sent = Stopwatch.GetTimestamp();
            string? error;
            try
            {
                using var request = target.NewRequest(sequence++);
                using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
                var body = await response.Content.ReadAsStreamAsync(ct);
                await using (body)
                {
                    while (await body.ReadAsync(buffer, ct) > 0)
                    {
                    }
                }

                error = response.StatusCode == HttpStatusCode.OK ? null : Invariant($"HTTP {(int)response.StatusCode}");
            }
            catch (HttpRequestException e)
            {
                error = e.Message;
            }
            catch (IOException e)
            {
                error = e.Message;
            }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested)
            {
                error = "timed out after 10 s";
            }

            if (error is null)
            {
                into.Latencies.Record(Stopwatch.GetElapsedTime(sent));
            }
            else
            {
                into.Errors++;
                into.FirstError ??= error;
            }
        }
    }

    private static string Report(LoadOptions options, Target[] targets, Measurement[] totals, List<Measurement[]> rounds, double cores)
    {
        var text = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        text.AppendLine(c, $"Closed loop, {options.Concurrency} concurrent workers over keep-alive HTTP/1.1, {options.WarmupSeconds} s warm-up,");
        text.AppendLine(c, $"then {options.Rounds} rounds of {options.Slice.TotalSeconds:0.##} s per endpoint in ABBA order ({options.Seconds} s measured each).");
        text.AppendLine(c, $"Load generator: {cores:F2} cores of {Environment.ProcessorCount} while measuring ({Environment.Version}, {Environment.OSVersion}).");
        text.AppendLine();
        text.AppendLine("| endpoint | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | errors |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var (target, total) in targets.Zip(totals))
        {
            var l = total.Latencies;
            text.AppendLine(c,
                $"| `{target.Label}` | {l.Count} | {total.RequestsPerSecond:F0} | {l.PercentileMillis(50):F2} | {l.PercentileMillis(90):F2} | {l.PercentileMillis(99):F2} | {l.MaxMicros / 1000.0:F2} | {total.Errors} |");
        }

        var (baseline, measured) = (totals[0], totals[1]);
        var (a, b) = (targets[0].Short, targets[1].Short);
        text.AppendLine(c,
            $"| **{b} / {a}** | | **{measured.RequestsPerSecond / baseline.RequestsPerSecond:F2}×** | {Ratio(measured, baseline, 50):F2}× | {Ratio(measured, baseline, 90):F2}× | **{Ratio(measured, baseline, 99):F2}×** | | |");
        text.AppendLine();
        text.AppendLine("Per round (req/s, p99 ms):");
        text.AppendLine();
        text.AppendLine(c, $"| round | {a} req/s | {b} req/s | {b} / {a} | {a} p99 | {b} p99 |");
        text.AppendLine("|---:|---:|---:|---:|---:|---:|");
        for (var i = 0; i < rounds.Count; i++)
        {
            var (r, m) = (rounds[i][0], rounds[i][1]);
            text.AppendLine(c,
                $"| {i + 1} | {r.RequestsPerSecond:F0} | {m.RequestsPerSecond:F0} | {m.RequestsPerSecond / r.RequestsPerSecond:F2}× | {r.Latencies.PercentileMillis(99):F2} | {m.Latencies.PercentileMillis(99):F2} |");
        }

        return text.ToString();
    }

    private static double Ratio(Measurement a, Measurement b, double percentile) =>
        a.Latencies.PercentileMillis(percentile) / b.Latencies.PercentileMillis(percentile);

    private static string Invariant(FormattableString text) => FormattableString.Invariant(text);
}
