using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace ClinicFlow.Load;

/// <summary>What one slice (or the sum of a target's slices) measured.</summary>
internal sealed class Measurement
{
    public LatencyHistogram Latencies { get; } = new();

    /// <summary>Answered requests by status (only the target's accepted statuses).</summary>
    public Dictionary<int, long> Statuses { get; } = [];

    public long Errors { get; set; }

    public TimeSpan Elapsed { get; set; }

    public string? FirstError { get; set; }

    public double RequestsPerSecond => Latencies.Count / Elapsed.TotalSeconds;

    public long CountOf(int status) => Statuses.GetValueOrDefault(status);

    public void Count(int status) => Statuses[status] = Statuses.GetValueOrDefault(status) + 1;

    public void Add(Measurement other)
    {
        Latencies.Add(other.Latencies);
        foreach (var (status, count) in other.Statuses)
        {
            Statuses[status] = Statuses.GetValueOrDefault(status) + count;
        }

        Errors += other.Errors;
        Elapsed += other.Elapsed;
        FirstError ??= other.FirstError;
    }
}

/// <summary>Two targets measured in alternating rounds: the totals, each round, and the generator's own CPU.</summary>
internal sealed record PairResult(Target[] Targets, Measurement[] Totals, List<Measurement[]> Rounds, double Cores);

/// <summary>
/// Closed-loop load: each worker sends one request, reads the whole answer, records its latency
/// and sends the next, until the slice's deadline. Only answers with an accepted status (200 unless
/// the target says otherwise) count as requests; anything else is an error. Both targets of a pair
/// share one connection pool, warmed up before measuring.
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

        if (options.Scenario == "scheduling")
        {
            return await SchedulingScenario.RunAsync(client, options, output, progress, ct);
        }

        if (options.Scenario == "consent")
        {
            return await ConsentScenario.RunAsync(client, options, output, progress, ct);
        }

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
        else if (options.Scenario == "fhir")
        {
            var authorization = "Bearer " + options.Token;
            var patient = "/api/patients/" + options.PatientId.ToString("D");
            targets =
            [
                new("GET /api/patients/{id}", "get", patient, authorization),
                new("GET /api/patients/{id}/fhir", "fhir", patient + "/fhir", authorization),
            ];
        }
        else
        {
            var token = await RegisterAsync(client, progress, ct);
            if (token is null)
            {
                return 1;
            }

            targets = options.Scenario == "idempotency"
                ? [NewPatients("POST /api/patients", "plain", token, keyed: false), NewPatients("POST /api/patients + Idempotency-Key", "keyed", token, keyed: true)]
                :
                [
                    new("GET /health/ready", "ready", "/health/ready", null),
                    new("GET /api/auth/me", "me", "/api/auth/me", "Bearer " + token),
                ];
        }

        foreach (var target in targets)
        {
            if (await PreflightAsync(client, target, progress, ct) is not null)
            {
                return 1;
            }
        }

        var result = await RunPairAsync(client, options, targets, progress, ct);
        output.Write(Header(options, result.Cores));
        output.WriteLine();
        output.Write(PairReport(result));
        ReportFirstErrors(result, progress);
        return result.Totals.Any(t => t.Errors > 0) ? 3 : 0;
    }

    /// <summary>
    /// Patient registrations of one clinic, each with its own name (the same body size either way); with
    /// <paramref name="keyed"/> every request carries a fresh Idempotency-Key, so each is a first request:
    /// the claim, the buffered body and answer, and the kept row are the whole difference.
    /// </summary>
    private static Target NewPatients(string label, string shortName, string token, bool keyed)
    {
        var prefix = keyed ? "K" : "P";
        return new Target(label, shortName, "/api/patients", sequence =>
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/api/patients")
            {
                Version = HttpVersion.Version11,
                Content = new StringContent(Invariant($$"""{"fullName":"Bench Patient {{prefix}}{{sequence:D10}}","notes":"load"}"""),
                    Encoding.UTF8, "application/json"),
            };
            request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + token);
            if (keyed)
            {
                request.Headers.TryAddWithoutValidation("Idempotency-Key", Guid.NewGuid().ToString("D"));
            }

            return request;
        }, [(int)HttpStatusCode.Created]);
    }

    /// <summary>Warm-up (discarded, split between both targets), then the measured rounds in ABBA order.</summary>
    public static async Task<PairResult> RunPairAsync(HttpClient client, LoadOptions options, Target[] targets, TextWriter progress,
        CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentNullException.ThrowIfNull(progress);
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
        return new PairResult(targets, totals, rounds, cores);
    }

    /// <summary>Null when every request of the check before the run was accepted; otherwise what answered instead.</summary>
    public static async Task<string?> PreflightAsync(HttpClient client, Target target, TextWriter progress, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(progress);
        for (var i = 0; i < target.PreflightCount; i++)
        {
            using var request = target.NewRequest(i);
            if (request is null)
            {
                return "no request to send";
            }

            using var response = await client.SendAsync(request, ct);
            var status = (int)response.StatusCode;
            target.Observe(status);
            if (target.Accepts(status))
            {
                continue;
            }

            var body = await response.Content.ReadAsStringAsync(ct);
            var problem = Invariant($"{request.Method} {target.Describe(i)} answered {status}: {Shorten(body)}");
            progress.WriteLine(Invariant($"{problem} (before the run)"));
            return problem;
        }

        return null;
    }

    public static string Header(LoadOptions options, double cores)
    {
        ArgumentNullException.ThrowIfNull(options);
        var text = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        text.AppendLine(c, $"Closed loop, {options.Concurrency} concurrent workers over keep-alive HTTP/1.1, {options.WarmupSeconds} s warm-up,");
        text.AppendLine(c, $"then {options.Rounds} rounds of {options.Slice.TotalSeconds:0.##} s per endpoint in ABBA order ({options.Seconds} s measured each).");
        text.AppendLine(c, $"Load generator: {cores:F2} cores of {Environment.ProcessorCount} while measuring ({Environment.Version}, {Environment.OSVersion}).");
        return text.ToString();
    }

    /// <summary>The pair's table, its ratio row and the per-round table.</summary>
    public static string PairReport(PairResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var (targets, totals, rounds) = (result.Targets, result.Totals, result.Rounds);
        var text = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
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
            $"| **{b} / {a}** | | **{Times(measured.RequestsPerSecond / baseline.RequestsPerSecond)}** | {Times(Ratio(measured, baseline, 50))} | {Times(Ratio(measured, baseline, 90))} | **{Times(Ratio(measured, baseline, 99))}** | | |");
        text.AppendLine();
        text.AppendLine("Per round (req/s, p99 ms):");
        text.AppendLine();
        text.AppendLine(c, $"| round | {a} req/s | {b} req/s | {b} / {a} | {a} p99 | {b} p99 |");
        text.AppendLine("|---:|---:|---:|---:|---:|---:|");
        for (var i = 0; i < rounds.Count; i++)
        {
            var (r, m) = (rounds[i][0], rounds[i][1]);
            text.AppendLine(c,
                $"| {i + 1} | {r.RequestsPerSecond:F0} | {m.RequestsPerSecond:F0} | {Times(m.RequestsPerSecond / r.RequestsPerSecond)} | {r.Latencies.PercentileMillis(99):F2} | {m.Latencies.PercentileMillis(99):F2} |");
        }

        return text.ToString();
    }

    public static void ReportFirstErrors(PairResult result, TextWriter progress)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(progress);
        foreach (var (target, total) in result.Targets.Zip(result.Totals))
        {
            if (total.FirstError is not null)
            {
                progress.WriteLine(Invariant($"{target.Label}: first error: {total.FirstError}"));
            }
        }
    }

    public static double Ratio(Measurement a, Measurement b, double percentile)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        return a.Latencies.PercentileMillis(percentile) / b.Latencies.PercentileMillis(percentile);
    }

    /// <summary>A ratio with two decimals, or two significant digits below 0.1 (a 0.004× throughput is not 0.00×).</summary>
    public static string Times(double ratio) => ratio is > 0 and < 0.1
        ? ratio.ToString("G2", CultureInfo.InvariantCulture) + "×"
        : Invariant($"{ratio:F2}×");

    public static string Invariant(FormattableString text) => FormattableString.Invariant(text);

    private static string Shorten(string body) => body.Length <= 300 ? body : string.Concat(body.AsSpan(0, 300), "…");

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
        var elapsed = Stopwatch.GetElapsedTime(start);
        var result = new Measurement();
        foreach (var worker in workers)
        {
            result.Add(worker);
        }

        result.Elapsed = elapsed;
        return result;
    }

    private static async Task WorkAsync(HttpClient client, Target target, long sequence, long deadline, Measurement into, CancellationToken ct)
    {
        // Each worker starts at its own path, so concurrent requests ask for different ones.
        var buffer = new byte[16 * 1024];
        while (Stopwatch.GetTimestamp() < deadline)
        {
            ct.ThrowIfCancellationRequested();
            using var request = target.NewRequest(sequence++);
            if (request is null)
            {
                // The target has nothing more to send (bookings: every planned slot was asked for).
                into.FirstError ??= "no more requests planned";
                break;
            }

            var sent = Stopwatch.GetTimestamp();
            string? error;
            var status = 0;
            try
            {
                using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
                status = (int)response.StatusCode;
                target.Observe(status);
                var accepted = target.Accepts(status);
                var body = await response.Content.ReadAsStreamAsync(ct);
                var first = true;
                error = null;
                await using (body)
                {
                    int read;
                    while ((read = await body.ReadAsync(buffer, ct)) > 0)
                    {
                        if (first && !accepted && into.FirstError is null)
                        {
                            error = Invariant($"HTTP {status}: {Shorten(Encoding.UTF8.GetString(buffer, 0, read))}");
                        }

                        first = false;
                    }
                }

                if (!accepted)
                {
                    error ??= Invariant($"HTTP {status}");
                }
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
                into.Count(status);
            }
            else
            {
                into.Errors++;
                into.FirstError ??= error;
            }
        }
    }
}
