using ClinicFlow.Load;

// HTTP load on a running ClinicFlow: two endpoints in alternating rounds of the same run, reported
// as a Markdown table with their ratio. Scenario auth (default): GET /api/auth/me (JWT + fail-closed
// check + tenant scope + queries) beside GET /health/ready (one round trip, no auth). Scenario
// patients: the patient search over rotating terms beside the primary-key lookup of one patient.
// Scenario scheduling: several pairs one after the other (appointment lookup, a clinic's day, a
// week of availability, an ICS feed, bookings with conflicts), each beside that same lookup. Scenario
// fhir: a patient's record as a FHIR R4 Bundle beside the primary-key lookup of that patient.
// Loopback only; bounded.
if (!LoadOptions.TryParse(args, out var options, out var problem))
{
    Console.Error.WriteLine(problem);
    Console.Error.WriteLine(LoadOptions.Usage);
    return 2;
}

using var stop = new CancellationTokenSource();

// Hard stop: the planned load plus a minute for sign-up, checks and stragglers.
stop.CancelAfter(options.HardLimit);
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};

try
{
    return await LoadRun.RunAsync(options, Console.Out, Console.Error, stop.Token);
}
catch (OperationCanceledException) when (stop.IsCancellationRequested)
{
    Console.Error.WriteLine("Stopped before the end of the run; no result.");
    return 1;
}
catch (HttpRequestException e)
{
    Console.Error.WriteLine($"Cannot reach {options.Url}: {e.Message}");
    return 1;
}
