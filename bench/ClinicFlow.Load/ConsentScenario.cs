using System.Net;
using System.Text;
using System.Text.Json;

namespace ClinicFlow.Load;

/// <summary>What bench/consent.sh generated: links ready to submit and a submitted form to export.</summary>
internal sealed record ConsentPlan(string Token, Guid PatientId, Guid ConsentId, string Envelope, string LinkPrefix, int Links)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static ConsentPlan Load(string path) =>
        JsonSerializer.Deserialize<ConsentPlan>(File.ReadAllText(path), Json) is { Links: > 0 } plan && plan.Token.Length > 0
            ? plan
            : throw new InvalidDataException($"{path}: the plan lacks a token or links");
}

/// <summary>
/// The consent endpoints beside the primary-key lookup of one patient (GET /api/patients/{id}), one
/// pair after the other: the public submit of a JWE (each request on a link of its own, 201) and the
/// GDT 2.1 export of a submitted form (200, application/octet-stream).
/// </summary>
internal static class ConsentScenario
{
    public static async Task<int> RunAsync(HttpClient client, LoadOptions options, TextWriter output, TextWriter progress, CancellationToken ct)
    {
        var plan = ConsentPlan.Load(options.PlanPath!);
        var authorization = "Bearer " + plan.Token;
        var baseline = new Target("GET /api/patients/{id}", "get", "/api/patients/" + plan.PatientId.ToString("D"), authorization);
        if (await LoadRun.PreflightAsync(client, baseline, progress, ct) is { } baselineProblem)
        {
            output.WriteLine(LoadRun.Invariant($"The baseline does not answer: {baselineProblem}"));
            return 1;
        }

        var next = -1L;
        HttpRequestMessage? NewSubmit(long _)
        {
            // One sequence for all workers: each link is submitted once.
            var n = Interlocked.Increment(ref next);
            if (n >= plan.Links)
            {
                return null;
            }

            var body = JsonSerializer.Serialize(new { encryptedPayload = plan.Envelope, signedAt = DateTimeOffset.UtcNow });
            return new HttpRequestMessage(HttpMethod.Post, LoadRun.Invariant($"/api/consent/{plan.LinkPrefix}{n}/submit"))
            {
                Version = HttpVersion.Version11,
                Content = new StringContent(body, Encoding.UTF8, "application/json"),
            };
        }

        var gdtBody = JsonSerializer.Serialize(new { consentId = plan.ConsentId, patient = new { number = "4711", lastName = "Müller", firstName = "Jürgen" } });
        HttpRequestMessage NewGdt(long _)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/api/gdt/generate")
            {
                Version = HttpVersion.Version11,
                Content = new StringContent(gdtBody, Encoding.UTF8, "application/json"),
            };
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
            return request;
        }

        var pairs = new (string Title, Target Measured)[]
        {
            (LoadRun.Invariant($"Consent submit: `POST /api/consent/{{token}}/submit` (a {plan.Envelope.Length}-character JWE, each on a link of its own)"),
                new Target("POST /api/consent/{token}/submit (201)", "submit", "/api/consent/{token}/submit", NewSubmit, [201])),
            ("GDT 2.1 export: `POST /api/gdt/generate` (record 6310, ISO 8859-1)",
                new Target("POST /api/gdt/generate (200)", "gdt", "/api/gdt/generate", NewGdt, [200])),
        };

        var results = new List<(string Title, PairResult Result)>();
        foreach (var (title, measured) in pairs)
        {
            progress.WriteLine(LoadRun.Invariant($"pair: {measured.Label}"));
            if (await LoadRun.PreflightAsync(client, measured, progress, ct) is { } problem)
            {
                output.WriteLine(LoadRun.Invariant($"{measured.Label} does not answer: {problem}"));
                return 1;
            }

            results.Add((title, await LoadRun.RunPairAsync(client, options, [baseline, measured], progress, ct)));
        }

        output.Write(LoadRun.Header(options, results.Average(r => r.Result.Cores)).Replace(
            "Load generator:", "Load generator (mean over the pairs):", StringComparison.Ordinal));
        output.WriteLine("Each pair runs on its own (warm-up included), its endpoint beside the same primary-key lookup.");
        foreach (var (title, result) in results)
        {
            output.WriteLine();
            output.WriteLine(LoadRun.Invariant($"### {title}"));
            output.WriteLine();
            output.Write(LoadRun.PairReport(result));
            LoadRun.ReportFirstErrors(result, progress);
        }

        output.WriteLine();
        output.WriteLine(LoadRun.Invariant($"Links submitted over the whole run (pre-check and warm-up included): {Math.Min(next + 1, plan.Links)} of {plan.Links}."));
        return results.Any(r => r.Result.Totals.Any(t => t.Errors > 0)) ? 3 : 0;
    }
}
