using System.Globalization;

namespace ClinicFlow.Load;

/// <summary>Command line of the load generator; every value bounded so a run always ends by itself.</summary>
internal sealed record LoadOptions(Uri Url, int Concurrency, int WarmupSeconds, int Seconds, int Rounds)
{
    public const string Usage = """
        usage: ClinicFlow.Load --url http://127.0.0.1:PORT [--concurrency 16] [--warmup 5] [--seconds 20] [--rounds 4]
               [--scenario auth | --scenario patients --token JWT --patient-id GUID --search-terms "jose,NÚÑEZ,garcia lo"
                | --scenario scheduling --plan FILE [--only appointment,list,listnew,availability,ics,ics304,booking]
                | --scenario idempotency
                | --scenario consent --plan FILE
                | --scenario fhir --token JWT --patient-id GUID]
          --url          the app's base URL; loopback only (127.0.0.1, localhost, [::1])
          --concurrency  concurrent workers, each with one request in flight (1-512)
          --warmup       seconds of discarded load before measuring, split between the two targets (0-120)
          --seconds      measured seconds per target, split into --rounds alternating slices (1-600)
          --rounds       alternating rounds per target; seconds / rounds must be at least 1
          --scenario     auth (default): GET /api/auth/me beside GET /health/ready, as a freshly registered clinic
                         patients: GET /api/patients?q=TERM&limit=20 beside GET /api/patients/ID (primary key)
                         fhir: GET /api/patients/ID/fhir (the patient's record as a FHIR R4 Bundle) beside
                         GET /api/patients/ID (primary key)
          --token        patients, fhir: the clinic's bearer token (fhir: an admin's or a doctor's)
          --patient-id   patients, fhir: a patient of that clinic, for the primary-key lookup (fhir: and the export)
          --search-terms patients: comma-separated search terms, rotated per request (1-1000 terms)
                         scheduling: one pair after the other, each beside GET /api/patients/ID, each with its own
                         warm-up and rounds: GET /api/appointments/ID, a clinic's day (as polled, and with every
                         window new, so no page comes from memory), a doctor's week of availability,
                         an ICS feed (whole, and unchanged: If-None-Match → 304), concurrent bookings with a
                         known share of conflicts
                         idempotency: POST /api/patients with a fresh Idempotency-Key on every request beside the
                         same POST without one, as a freshly registered clinic
          --plan         scheduling: JSON file with the tokens, ids and times of the generated data (bench/scheduling.sh)
          --only         scheduling: comma-separated subset of the pairs, in the order given
        """;

    /// <summary>The pairs of the scheduling scenario, in the order they run by default.</summary>
    public static readonly string[] SchedulingPairs = ["appointment", "list", "listnew", "availability", "ics", "ics304", "booking"];

    public string Scenario { get; init; } = "auth";

    public string? Token { get; init; }

    public Guid PatientId { get; init; }

    public IReadOnlyList<string> SearchTerms { get; init; } = [];

    public string? PlanPath { get; init; }

    public IReadOnlyList<string> Pairs { get; init; } = SchedulingPairs;

    /// <summary>Pairs of targets measured one after the other: one for auth and patients.</summary>
    public int PairCount => Scenario switch { "scheduling" => Pairs.Count, "consent" => 2, _ => 1 };

    /// <summary>When the run stops by itself: the planned load plus a minute for set-up, checks and stragglers.</summary>
    public TimeSpan HardLimit => TimeSpan.FromSeconds((PairCount * (WarmupSeconds + (2 * Seconds))) + 60);

    private static readonly string[] LoopbackHosts = ["127.0.0.1", "localhost", "[::1]"];

    public TimeSpan Slice => TimeSpan.FromSeconds((double)Seconds / Rounds);

    public static bool TryParse(string[] args, out LoadOptions options, out string problem)
    {
        options = new LoadOptions(new Uri("http://127.0.0.1/"), 16, 5, 20, 4);
        problem = "";
        Uri? url = null;
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i];
            if (i + 1 >= args.Length)
            {
                problem = $"{name}: missing value";
                return false;
            }

            var value = args[++i];
            switch (name)
            {
                case "--url":
                    if (!TryLoopback(value, out url, out problem))
                    {
                        return false;
                    }

                    break;
                case "--concurrency":
                    if (!TryInt(name, value, 1, 512, out var concurrency, out problem))
                    {
                        return false;
                    }

                    options = options with { Concurrency = concurrency };
                    break;
                case "--warmup":
                    if (!TryInt(name, value, 0, 120, out var warmup, out problem))
                    {
                        return false;
                    }

                    options = options with { WarmupSeconds = warmup };
                    break;
                case "--seconds":
                    if (!TryInt(name, value, 1, 600, out var seconds, out problem))
                    {
                        return false;
                    }

                    options = options with { Seconds = seconds };
                    break;
                case "--rounds":
                    if (!TryInt(name, value, 1, 100, out var rounds, out problem))
                    {
                        return false;
                    }

                    options = options with { Rounds = rounds };
                    break;
                case "--scenario":
                    if (value is not ("auth" or "patients" or "scheduling" or "idempotency" or "consent" or "fhir"))
                    {
                        problem = $"--scenario: expected auth, patients, scheduling, idempotency, consent or fhir, got '{value}'";
                        return false;
                    }

                    options = options with { Scenario = value };
                    break;
                case "--token":
                    options = options with { Token = value };
                    break;
                case "--patient-id":
                    if (!Guid.TryParse(value, out var patientId))
                    {
                        problem = $"--patient-id: expected a GUID, got '{value}'";
                        return false;
                    }

                    options = options with { PatientId = patientId };
                    break;
                case "--search-terms":
                    var terms = value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
                    if (terms.Length is 0 or > 1000 || terms.Any(t => t.Length > 200))
                    {
                        problem = "--search-terms: expected 1 to 1000 comma-separated terms of at most 200 characters";
                        return false;
                    }

                    options = options with { SearchTerms = terms };
                    break;
                case "--plan":
                    if (!File.Exists(value))
                    {
                        problem = $"--plan: no such file '{value}'";
                        return false;
                    }

                    options = options with { PlanPath = value };
                    break;
                case "--only":
                    var pairs = value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
                    var unknown = pairs.FirstOrDefault(p => !SchedulingPairs.Contains(p, StringComparer.Ordinal));
                    if (pairs.Length == 0 || unknown is not null || pairs.Distinct(StringComparer.Ordinal).Count() != pairs.Length)
                    {
                        problem = $"--only: expected distinct names among {string.Join(',', SchedulingPairs)}, got '{value}'";
                        return false;
                    }

                    options = options with { Pairs = pairs };
                    break;
                default:
                    problem = $"unknown argument {name}";
                    return false;
            }
        }

        if (url is null)
        {
            problem = "--url is required";
            return false;
        }

        if (options.Seconds < options.Rounds)
        {
            problem = "--seconds must be at least --rounds (slices of one second or more)";
            return false;
        }

        if (options.Scenario == "patients"
            && (string.IsNullOrEmpty(options.Token) || options.PatientId == Guid.Empty || options.SearchTerms.Count == 0))
        {
            problem = "--scenario patients needs --token, --patient-id and --search-terms";
            return false;
        }

        if (options.Scenario == "fhir" && (string.IsNullOrEmpty(options.Token) || options.PatientId == Guid.Empty))
        {
            problem = "--scenario fhir needs --token and --patient-id";
            return false;
        }

        if (options.Scenario is "scheduling" or "consent" && options.PlanPath is null)
        {
            problem = $"--scenario {options.Scenario} needs --plan";
            return false;
        }

        options = options with { Url = url };
        return true;
    }

    private static bool TryLoopback(string value, out Uri? url, out string problem)
    {
        url = null;
        problem = "";
        if (!Uri.TryCreate(value, UriKind.Absolute, out var parsed) || parsed.Scheme is not ("http" or "https")
            || parsed.AbsolutePath != "/" || parsed.Query.Length > 0 || parsed.UserInfo.Length > 0)
        {
            problem = $"--url: expected http://127.0.0.1:PORT, got '{value}'";
            return false;
        }

        // A load generator must never be pointed at someone else's server.
        if (!LoopbackHosts.Contains(parsed.Host, StringComparer.OrdinalIgnoreCase))
        {
            problem = $"--url: refusing '{parsed.Host}': only 127.0.0.1, localhost and [::1] are accepted";
            return false;
        }

        url = parsed;
        return true;
    }

    private static bool TryInt(string name, string value, int min, int max, out int result, out string problem)
    {
        problem = "";
        if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out result) && result >= min && result <= max)
        {
            return true;
        }

        problem = $"{name}: expected a whole number from {min} to {max}, got '{value}'";
        return false;
    }
}
