using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Npgsql;

// WhatsApp benchmark against a running ClinicFlow (bench/README.md): a fake Graph API on loopback
// that the app's outbox posts to, then, each beside the primary-key lookup GET /api/patients/{id}:
//   1. the webhook's acknowledge latency: signed inbound messages posted by N closed-loop workers;
//   2. the outbox dispatch rate: M WhatsApp messages queued at once, timed until the fake has them all.
// Arguments: --url http://127.0.0.1:PORT --fake-port PORT --app-secret S --db CONNSTR
//            [--concurrency 8] [--seconds 10] [--messages 2000]. Loopback only; bounded.
var options = Args.Parse(args);
if (options is null)
{
    Console.Error.WriteLine("usage: --url http://127.0.0.1:PORT --fake-port PORT --app-secret S --db CONNSTR [--concurrency 8] [--seconds 10] [--messages 2000]");
    return 2;
}

using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(options.Seconds * 6 + options.Messages / 10 + 180));
var received = 0;
var builder = WebApplication.CreateSlimBuilder();
builder.WebHost.UseUrls($"http://127.0.0.1:{options.FakePort}");
builder.Logging.ClearProviders();
var fake = builder.Build();
fake.MapPost("/{phoneNumberId}/messages", async (HttpRequest request) =>
{
    using var reader = new StreamReader(request.Body);
    await reader.ReadToEndAsync();
    var n = Interlocked.Increment(ref received);
    return Results.Json(new { messaging_product = "whatsapp", messages = new[] { new { id = $"wamid.bench-{n}" } } });
});
await fake.StartAsync(stop.Token);

using var http = new HttpClient { BaseAddress = new Uri(options.Url), Timeout = TimeSpan.FromSeconds(10) };
var email = $"bench-{Guid.NewGuid():N}@bench.clinicflow.local";
var register = await http.PostAsJsonAsync("/api/auth/register", new
{
    email, password = "correct horse battery", fullName = "Bench Admin", clinicName = "Clínica Bench", country = "AR",
}, stop.Token);
register.EnsureSuccessStatusCode();
var token = JsonDocument.Parse(await register.Content.ReadAsStringAsync(stop.Token)).RootElement.GetProperty("token").GetString()!;
http.DefaultRequestHeaders.Authorization = new("Bearer", token);
const string PhoneNumberId = "1000000001";
(await http.PutAsJsonAsync("/api/clinics/current/whatsapp",
    new { phoneNumberId = PhoneNumberId, businessAccountId = "2000000001", accessToken = "bench-token", enabled = true }, stop.Token))
    .EnsureSuccessStatusCode();
string[] faqKeywords = ["horario"];
await http.PostAsJsonAsync("/api/faq", new { question = "¿Horario?", answer = "De 9 a 18.", keywords = faqKeywords }, stop.Token);
var patient = await http.PostAsJsonAsync("/api/patients", new { fullName = "Paciente Bench", phone = "+5491122334455" }, stop.Token);
patient.EnsureSuccessStatusCode();
var patientId = JsonDocument.Parse(await patient.Content.ReadAsStringAsync(stop.Token)).RootElement.GetProperty("id").GetGuid();
var clinicId = JsonDocument.Parse(await (await http.GetAsync("/api/clinics/current", stop.Token)).Content.ReadAsStringAsync(stop.Token))
    .RootElement.GetProperty("id").GetGuid();

var webhookCounter = 0;
HttpRequestMessage Lookup() => new(HttpMethod.Get, $"/api/patients/{patientId}");
HttpRequestMessage Webhook()
{
    var n = Interlocked.Increment(ref webhookCounter);
    var body = JsonSerializer.Serialize(new
    {
        @object = "whatsapp_business_account",
        entry = new[]
        {
            new
            {
                id = "2000000001",
                changes = new[]
                {
                    new
                    {
                        field = "messages",
                        value = new
                        {
                            messaging_product = "whatsapp",
                            metadata = new { display_phone_number = "15550000000", phone_number_id = PhoneNumberId },
                            messages = new[]
                            {
                                new
                                {
                                    from = $"54911{n % 100_000_000:D8}", id = $"wamid.in-{Guid.NewGuid():N}",
                                    timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
                                    type = "text", text = new { body = "¿Cuál es el horario?" },
                                },
                            },
                        },
                    },
                },
            },
        },
    });
    var signature = "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(options.AppSecret), Encoding.UTF8.GetBytes(body)));
    var request = new HttpRequestMessage(HttpMethod.Post, "/api/webhooks/whatsapp") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
    request.Headers.Add("X-Hub-Signature-256", signature);
    return request;
}

// Warm-up, then ABBA rounds: lookup, webhook, webhook, lookup.
await Closed.RunAsync(http, Lookup, options.Concurrency, TimeSpan.FromSeconds(options.Seconds), stop.Token);
await Closed.RunAsync(http, Webhook, options.Concurrency, TimeSpan.FromSeconds(options.Seconds), stop.Token);
var lookup = new Closed.Result();
var webhook = new Closed.Result();
var half = TimeSpan.FromSeconds(options.Seconds / 2.0);
lookup.Add(await Closed.RunAsync(http, Lookup, options.Concurrency, half, stop.Token));
webhook.Add(await Closed.RunAsync(http, Webhook, options.Concurrency, half, stop.Token));
webhook.Add(await Closed.RunAsync(http, Webhook, options.Concurrency, half, stop.Token));
lookup.Add(await Closed.RunAsync(http, Lookup, options.Concurrency, half, stop.Token));

// Let the inbound worker drain what the webhook stored (its replies go out too), then time the outbox alone.
await using var db = new NpgsqlConnection(options.Db);
await db.OpenAsync(stop.Token);
async Task<long> ScalarAsync(string sql)
{
    await using var command = new NpgsqlCommand(sql, db);
    return Convert.ToInt64(await command.ExecuteScalarAsync(stop.Token), CultureInfo.InvariantCulture);
}

var drain = Stopwatch.StartNew();
while (await ScalarAsync("select count(*) from whatsapp_inbound where status = 'pending'") > 0
    || await ScalarAsync("select count(*) from outbox_messages where status in ('pending', 'sending')") > 0)
{
    await Task.Delay(200, stop.Token);
}

var drained = drain.Elapsed;
var stored = await ScalarAsync("select count(*) from whatsapp_inbound");
var before = Volatile.Read(ref received);
await using (var insert = new NpgsqlCommand("""
    insert into outbox_messages (id, clinic_id, channel, recipient, payload, kind)
    select gen_random_uuid(), @clinic, 'whatsapp', '+54911' || lpad(g::text, 8, '0'), '{"text":"Recordatorio"}', 'reply'
    from generate_series(1, @n) g
    """, db))
{
    insert.Parameters.AddWithValue("clinic", clinicId);
    insert.Parameters.AddWithValue("n", options.Messages);
    await insert.ExecuteNonQueryAsync(stop.Token);
}

var dispatch = Stopwatch.StartNew();
while (Volatile.Read(ref received) - before < options.Messages)
{
    await Task.Delay(20, stop.Token);
}

var dispatchSeconds = dispatch.Elapsed.TotalSeconds;
// Exactly once over the whole run: every WhatsApp row sent after one attempt, and one request to the fake per row.
await Task.Delay(1000, stop.Token);
var rows = await ScalarAsync("select count(*) from outbox_messages where channel = 'whatsapp'");
var sentOnce = await ScalarAsync("select count(*) from outbox_messages where channel = 'whatsapp' and status = 'sent' and attempts = 1");
var requests = Volatile.Read(ref received);

var rate = options.Messages / dispatchSeconds;
Console.WriteLine($"{options.Concurrency} workers; warm-up {options.Seconds} s per endpoint, then 2 × {options.Seconds / 2.0:0.#} s per endpoint in ABBA order.");
Console.WriteLine();
Console.WriteLine("| endpoint | req/s | p50 ms | p90 ms | p99 ms | max ms | errors |");
Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
Console.WriteLine(lookup.Row("`GET /api/patients/{id}` (primary-key lookup)"));
Console.WriteLine(webhook.Row("`POST /api/webhooks/whatsapp` (signed, one new message)"));
Console.WriteLine(FormattableString.Invariant(
    $"| **webhook / lookup** | **{webhook.Rate / lookup.Rate:0.00}×** | {webhook.P(0.5) / lookup.P(0.5):0.00}× | {webhook.P(0.9) / lookup.P(0.9):0.00}× | **{webhook.P(0.99) / lookup.P(0.99):0.00}×** | | |"));
Console.WriteLine();
Console.WriteLine(FormattableString.Invariant(
    $"Outbox dispatch: {options.Messages} WhatsApp messages queued in one insert reached the fake Graph API in {dispatchSeconds:0.00} s: **{rate:0} messages/s** (one instance, sequential sends, batches of 20), **{rate / lookup.Rate:0.000}×** the lookup's req/s."));
Console.WriteLine(FormattableString.Invariant(
    $"Over the whole run {rows} WhatsApp messages were queued (the {options.Messages} above and the bot's answers to the webhook's messages): {sentOnce} recorded `sent` after exactly one attempt, and the fake Graph API received {requests} requests."));
Console.WriteLine(FormattableString.Invariant(
    $"Background work the webhook run left: {stored} stored inbound messages (each answered by FAQ through the outbox), drained {drained.TotalSeconds:0.0} s after the last round."));

await fake.StopAsync(CancellationToken.None);
return 0;

internal sealed record Args(string Url, int FakePort, string AppSecret, string Db, int Concurrency, int Seconds, int Messages)
{
    public static Args? Parse(string[] args)
    {
        var map = new Dictionary<string, string>();
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            map[args[i]] = args[i + 1];
        }

        if (!map.TryGetValue("--url", out var url) || !Uri.TryCreate(url, UriKind.Absolute, out var uri)
            || uri.Host is not ("127.0.0.1" or "localhost") || !map.TryGetValue("--fake-port", out var port)
            || !map.TryGetValue("--app-secret", out var secret) || !map.TryGetValue("--db", out var db))
        {
            return null;
        }

        int Int(string key, int fallback, int max) =>
            map.TryGetValue(key, out var v) && int.TryParse(v, CultureInfo.InvariantCulture, out var n) && n > 0 ? Math.Min(n, max) : fallback;
        return new Args(url, int.Parse(port, CultureInfo.InvariantCulture), secret, db, Int("--concurrency", 8, 64), Int("--seconds", 10, 120),
            Int("--messages", 2000, 100_000));
    }
}

internal static class Closed
{
    public sealed class Result
    {
        private readonly List<double> _latencies = [];
        private double _seconds;

        public int Errors { get; private set; }

        public double Rate => _latencies.Count / _seconds;

        public void Add((List<double> Latencies, int Errors, double Seconds) run)
        {
            _latencies.AddRange(run.Latencies);
            Errors += run.Errors;
            _seconds += run.Seconds;
        }

        public double P(double q)
        {
            var sorted = _latencies.Order().ToList();
            return sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(q * sorted.Count) - 1)];
        }

        public string Row(string name) => FormattableString.Invariant(
            $"| {name} | {Rate:0} | {P(0.5):0.00} | {P(0.9):0.00} | {P(0.99):0.00} | {_latencies.DefaultIfEmpty(double.NaN).Max():0.00} | {Errors} |");
    }

    /// <summary>N workers, each sending the next request when the previous answer is read; only 200 counts.</summary>
    public static async Task<(List<double> Latencies, int Errors, double Seconds)> RunAsync(HttpClient http, Func<HttpRequestMessage> next,
        int workers, TimeSpan duration, CancellationToken ct)
    {
        var latencies = new List<double>[workers];
        var errors = new int[workers];
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, workers).Select(async w =>
        {
            latencies[w] = [];
            while (clock.Elapsed < duration && !ct.IsCancellationRequested)
            {
                using var request = next();
                var started = Stopwatch.GetTimestamp();
                try
                {
                    using var response = await http.SendAsync(request, ct);
                    await response.Content.ReadAsByteArrayAsync(ct);
                    if (response.IsSuccessStatusCode)
                    {
                        latencies[w].Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                    }
                    else
                    {
                        errors[w]++;
                    }
                }
                catch (HttpRequestException)
                {
                    errors[w]++;
                }
            }
        }));
        return ([.. latencies.SelectMany(l => l)], errors.Sum(), clock.Elapsed.TotalSeconds);
    }
}
