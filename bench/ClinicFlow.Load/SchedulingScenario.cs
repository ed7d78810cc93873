using System.Globalization;
using System.Net;
using System.Text;

namespace ClinicFlow.Load;

/// <summary>
/// The scheduling endpoints, each in its own pair beside the primary-key lookup of one patient
/// (GET /api/patients/{id}), one pair after the other, each with its own warm-up and ABBA rounds.
/// A pair whose endpoint does not answer as expected before the run is reported as not measured and
/// the others still run.
/// </summary>
internal static class SchedulingScenario
{
    public static async Task<int> RunAsync(HttpClient client, LoadOptions options, TextWriter output, TextWriter progress,
        CancellationToken ct)
    {
        var plan = SchedulingPlan.Load(options.PlanPath!);
        var authorization = "Bearer " + plan.Token;
        var baseline = new Target("GET /api/patients/{id}", "get", "/api/patients/" + plan.PatientId.ToString("D"), authorization);
        if (await LoadRun.PreflightAsync(client, baseline, progress, ct) is { } baselineProblem)
        {
            output.WriteLine(LoadRun.Invariant($"The baseline does not answer: {baselineProblem}"));
            return 1;
        }

        var results = new List<(string Name, string Title, PairResult? Result, string? Problem)>();
        foreach (var name in options.Pairs)
        {
            var (title, measured) = name == "ics304"
                ? await BuildConditionalAsync(client, plan, ct)
                : Build(name, plan, authorization);
            progress.WriteLine(LoadRun.Invariant($"pair {name}: {measured.Label}"));
            var problem = await LoadRun.PreflightAsync(client, measured, progress, ct);
            results.Add(problem is null
                ? (name, title, await LoadRun.RunPairAsync(client, options, [baseline, measured], progress, ct), null)
                : (name, title, null, problem));
        }

        var measuredPairs = results.Where(r => r.Result is not null).Select(r => r.Result!).ToList();
        output.Write(LoadRun.Header(options, measuredPairs.Count == 0 ? 0 : measuredPairs.Average(r => r.Cores)).Replace(
            "Load generator:", "Load generator (mean over the pairs):", StringComparison.Ordinal));
        output.WriteLine("Each pair runs on its own (warm-up included), its endpoint beside the same primary-key lookup.");
        output.WriteLine();
        output.Write(Summary(results.Select(r => (r.Name, r.Result, r.Problem)).ToList()));
        foreach (var (name, title, result, problem) in results)
        {
            output.WriteLine();
            output.WriteLine(LoadRun.Invariant($"### {title}"));
            output.WriteLine();
            if (result is null)
            {
                output.WriteLine(LoadRun.Invariant($"Not measured: before the run, {problem}"));
                continue;
            }

            output.Write(LoadRun.PairReport(result));
            if (name == "booking")
            {
                output.WriteLine();
                output.Write(BookingReport(result));
            }

            LoadRun.ReportFirstErrors(result, progress);
        }

        return results.Any(r => r.Result is null || r.Result.Totals.Any(t => t.Errors > 0)) ? 3 : 0;
    }

    private static (string Title, Target Measured) Build(string name, SchedulingPlan plan, string authorization)
    {
        switch (name)
        {
            case "appointment":
                return ("Appointment by id: `GET /api/appointments/{id}`",
                    new Target("GET /api/appointments/{id}", "appt", "/api/appointments/" + plan.AppointmentId.ToString("D"), authorization));
            case "list":
                // The clinic's busy days, rotated per request (each worker starts at its own).
                var days = plan.Days
                    .Select(d => "/api/appointments?from=" + Instant(d.From) + "&to=" + Instant(d.To))
                    .ToArray();
                return (LoadRun.Invariant($"A clinic's day: `GET /api/appointments?from=…&to=…` ({plan.DayItems} appointments a day, {days.Length} days rotated)"),
                    new Target("GET /api/appointments?from=…&to=… (a day)", "day", days, authorization));
            case "listnew":
                // The same days, each request with a window never asked before (its end moved back by
                // n milliseconds, n counting the requests, within the last hour of the day, where no
                // appointment starts), so no page is served from memory: the rows are read and written each time.
                var fresh = plan.Days.ToArray();
                var asked = -1L;
                HttpRequestMessage? NewWindow(long _)
                {
                    var n = Interlocked.Increment(ref asked);
                    var day = fresh[n % fresh.Length];
                    var to = day.To.AddMilliseconds(-(1 + (n / fresh.Length % 3_600_000)));
                    var request = new HttpRequestMessage(HttpMethod.Get, "/api/appointments?from=" + Instant(day.From) + "&to="
                        + to.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture))
                    {
                        Version = HttpVersion.Version11,
                    };
                    request.Headers.TryAddWithoutValidation("Authorization", authorization);
                    return request;
                }

                return (LoadRun.Invariant($"A clinic's day read anew: `GET /api/appointments?from=…&to=…` ({plan.DayItems} appointments a day, {fresh.Length} days rotated, every window new)"),
                    new Target("GET /api/appointments?from=…&to=… (a day, every window new)", "new", "/api/appointments?from=…&to=…", NewWindow,
                        [(int)HttpStatusCode.OK]));
            case "availability":
                var weeks = plan.AvailabilityDoctors
                    .Select(d => "/api/appointments/availability?doctorId=" + d.ToString("D") + "&from=" + Instant(plan.Week.From)
                                 + "&to=" + Instant(plan.Week.To) + "&durationMinutes=" + plan.AvailabilityMinutes.ToString(CultureInfo.InvariantCulture))
                    .ToArray();
                return (LoadRun.Invariant($"A doctor's week of availability: `GET /api/appointments/availability?doctorId=…&from=…&to=…&durationMinutes={plan.AvailabilityMinutes}` ({weeks.Length} doctors rotated)"),
                    new Target("GET /api/appointments/availability (a week)", "week", weeks, authorization));
            case "ics":
                return (LoadRun.Invariant($"ICS feed of a doctor with {plan.IcsEvents} appointments: `GET /api/ics/{{token}}.ics`"),
                    new Target("GET /api/ics/{token}.ics", "ics", plan.IcsPath ?? "/api/ics/missing.ics", null));
            default:
                var booking = plan.Booking;
                var bookingAuthorization = "Bearer " + booking.Token;
                var next = -1L;
                HttpRequestMessage? NewBooking(long _)
                {
                    // One sequence for all workers: the numbering decides which requests must conflict.
                    var n = Interlocked.Increment(ref next);
                    if (n >= booking.Capacity)
                    {
                        return null;
                    }

                    var (doctor, patient, startsAt) = booking.Slot(BookingPlan.SlotOf(n));
                    var body = LoadRun.Invariant(
                        $$"""{"doctorId":"{{doctor:D}}","patientId":"{{patient:D}}","startsAt":"{{Instant(startsAt)}}","durationMinutes":{{booking.SlotMinutes}},"reason":"Bench booking"}""");
                    var request = new HttpRequestMessage(HttpMethod.Post, "/api/appointments")
                    {
                        Version = HttpVersion.Version11,
                        Content = new StringContent(body, Encoding.UTF8, "application/json"),
                    };
                    request.Headers.TryAddWithoutValidation("Authorization", bookingAuthorization);
                    return request;
                }

                return ("Bookings with conflicts: concurrent `POST /api/appointments`",
                    new Target("POST /api/appointments (201 or 409)", "book", "/api/appointments", NewBooking,
                        [(int)HttpStatusCode.Created, (int)HttpStatusCode.Conflict]));
        }
    }

    /// <summary>The feed asked again with the ETag of its last answer, as a polling calendar does: 304 while nothing changed.</summary>
    private static async Task<(string Title, Target Measured)> BuildConditionalAsync(HttpClient client, SchedulingPlan plan,
        CancellationToken ct)
    {
        var path = plan.IcsPath ?? "/api/ics/missing.ics";
        string? etag = null;
        using (var response = await client.GetAsync(path, HttpCompletionOption.ResponseHeadersRead, ct))
        {
            etag = response.StatusCode == HttpStatusCode.OK ? response.Headers.ETag?.ToString() : null;
        }

        return (LoadRun.Invariant($"ICS feed unchanged since the calendar's last poll: `GET /api/ics/{{token}}.ics` with `If-None-Match` ({plan.IcsEvents} appointments)"),
            new Target("GET /api/ics/{token}.ics (If-None-Match → 304)", "ics304", [path], null, [(int)HttpStatusCode.NotModified],
                [("If-None-Match", etag ?? "\"no-etag\"")]));
    }

    private static string Summary(List<(string Name, PairResult? Result, string? Problem)> results)
    {
        var c = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.AppendLine("| pair | endpoint | get req/s | its req/s | req/s ratio | p50 ratio | p99 ratio |");
        text.AppendLine("|---|---|---:|---:|---:|---:|---:|");
        foreach (var (name, result, problem) in results)
        {
            if (result is null)
            {
                text.AppendLine(c, $"| {name} | not measured | | | | | |");
                continue;
            }

            var (baseline, measured) = (result.Totals[0], result.Totals[1]);
            text.AppendLine(c,
                $"| {name} | `{result.Targets[1].Label}` | {baseline.RequestsPerSecond:F0} | {measured.RequestsPerSecond:F0} | **{LoadRun.Times(measured.RequestsPerSecond / baseline.RequestsPerSecond)}** | {LoadRun.Times(LoadRun.Ratio(measured, baseline, 50))} | **{LoadRun.Times(LoadRun.Ratio(measured, baseline, 99))}** |");
        }

        return text.ToString();
    }

    private static string BookingReport(PairResult result)
    {
        var c = CultureInfo.InvariantCulture;
        var (target, total) = (result.Targets[1], result.Totals[1]);
        var seconds = total.Elapsed.TotalSeconds;
        var (created, conflicts) = (total.CountOf(201), total.CountOf(409));
        var answered = created + conflicts;
        var text = new StringBuilder();
        text.AppendLine("| bookings (measured slices) | answers | per second | share |");
        text.AppendLine("|---|---:|---:|---:|");
        text.AppendLine(c, $"| `201 Created` | {created} | {created / seconds:F0} | {(double)created / answered:P1} |");
        text.AppendLine(c, $"| `409 APPOINTMENT_CONFLICT` | {conflicts} | {conflicts / seconds:F0} | {(double)conflicts / answered:P1} |");
        text.AppendLine(c, $"| other (errors) | {total.Errors} | | |");
        text.AppendLine();
        text.AppendLine(c,
            $"Expected 409 share by construction: {BookingPlan.ExpectedConflictShare:P0} (of every 10 requests, 2 ask for a slot already taken in the database and 2 for the same free slot at about the same time).");
        text.AppendLine(c,
            $"POSTs over the whole run (check and warm-up included): 201 × {target.Seen(201)}, 409 × {target.Seen(409)}, other × {target.SeenOther()}{(target.SeenOther() > 0 ? " (" + target.OtherStatuses() + ")" : "")}.");
        return text.ToString();
    }

    private static string Instant(DateTimeOffset instant) =>
        instant.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
