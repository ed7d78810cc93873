using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using ClinicFlow.Tests.Support;
using Dapper;
using Npgsql;

namespace ClinicFlow.Tests.Platform;

/// <summary>
/// SIGTERM to a real app process under write load: in-flight requests finish, every acknowledged
/// write is in the database, and the outbox hands its claimed messages back so another instance
/// sends each exactly once, without waiting for the lease.
/// </summary>
public sealed class ShutdownTests(AppFixture app) : ApiTest(app)
{
    [Fact]
    public async Task Sigterm_under_load_loses_no_acknowledged_write_and_sends_no_message_twice()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS(), "SIGTERM is a POSIX signal.");
        // A slow mail provider: the dispatcher is mid-batch when the signal arrives.
        await using var sink = new SmtpSink { AcceptDelay = TimeSpan.FromMilliseconds(150) };
        var database = "clinicflow_test_sigterm_" + Guid.NewGuid().ToString("N")[..8];
        var appCs = await App.Cluster.CreateDatabaseAsync(database);
        var settings = App.BaseSettings(appCs);
        settings["Smtp:Port"] = sink.Port.ToString(CultureInfo.InvariantCulture);
        settings["Outbox:BatchSize"] = "20";
        settings["Outbox:LeaseSeconds"] = "600";
        var port = FreePort();
        settings["Urls"] = $"http://127.0.0.1:{port}";

        var console = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var process = StartApp(settings, console);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
        try
        {
            await WaitReadyAsync(http, process);
            var email = NewEmail("sigterm");
            var register = await http.PostAsJsonAsync("/api/auth/register",
                new { email, password = Password, fullName = "Sig Term", clinicName = "Clínica Señal", country = "AR" }, Ct);
            Assert.Equal(HttpStatusCode.Created, register.StatusCode);

            // Eight writers ask for reset mails (each 202 is a token row and an outbox message) until the app goes away.
            var acknowledged = 0;
            using var stopLoad = new CancellationTokenSource(TimeSpan.FromSeconds(40));
            var writers = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
            {
                while (!stopLoad.IsCancellationRequested)
                {
                    try
                    {
                        var answer = await http.PostAsJsonAsync("/api/auth/password-reset/request", new { email }, stopLoad.Token);
                        if (answer.StatusCode == HttpStatusCode.Accepted)
                        {
                            Interlocked.Increment(ref acknowledged);
                        }
                        else if ((int)answer.StatusCode >= 500)
                        {
                            return;
                        }
                    }
                    catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException)
                    {
                        return; // the app stopped listening: whatever was not answered was not acknowledged
                    }
                }
            })).ToList();

            await using var admin = new NpgsqlConnection(App.Cluster.AdminConnectionStringFor(database));
            for (var i = 0; i < 200 && await admin.ExecuteScalarAsync<long>("select count(*) from outbox_messages where status = 'sent'") < 5; i++)
            {
                await Task.Delay(50, Ct);
            }

            // The signal must find the dispatcher mid-batch with messages still to send, whatever the machine's pace.
            // From here the provider takes three seconds a message, so the message in hand when the signal lands
            // is one past the one being sent now, or two on a slow stop; with five or more of the batch still claimed,
            // some are left behind it to hand back.
            sink.AcceptDelay = TimeSpan.FromSeconds(3);
            // At worst the batch in hand has four left, three of them slow, before the next is claimed.
            var midBatch = false;
            for (var waited = Stopwatch.StartNew(); waited.Elapsed < TimeSpan.FromSeconds(20) && !midBatch;)
            {
                midBatch = await admin.ExecuteScalarAsync<long>("select count(*) from outbox_messages where status = 'sending'") >= 5;
                if (!midBatch)
                {
                    await Task.Delay(10, Ct);
                }
            }

            Assert.True(midBatch, "The dispatcher never held five claimed messages.");

            Signal(process, "TERM");
            Assert.True(process.WaitForExit(TimeSpan.FromSeconds(40)), "The app did not stop after SIGTERM.");
            // The timed wait can return before the last console lines reach their handlers; this one waits for them.
            process.WaitForExit();
            await stopLoad.CancelAsync();
            await Task.WhenAll(writers);

            var queued = await admin.ExecuteScalarAsync<long>("select count(*) from outbox_messages");
            var tokens = await admin.ExecuteScalarAsync<long>("select count(*) from password_reset_tokens");
            Assert.True(acknowledged > 0);
            Assert.True(tokens >= acknowledged, $"{acknowledged} acknowledged, {tokens} kept");
            Assert.Equal(tokens, queued);
            // Handed back, not left under a ten-minute lease.
            Assert.Equal(0L, await admin.ExecuteScalarAsync<long>("select count(*) from outbox_messages where status = 'sending'"));
            Assert.Contains(console, line => line.Contains("claimed messages back on shutdown", StringComparison.Ordinal));

            // Another instance on the same database sends the rest at once (the provider is quick again).
            sink.AcceptDelay = TimeSpan.Zero;
            var appConnection = new NpgsqlConnectionStringBuilder(appCs) { Database = database }.ConnectionString;
            await App.StartIsolatedAsync(new Dictionary<string, string?>(settings) { ["ConnectionStrings:Postgres"] = appConnection, ["Urls"] = null });
            for (var i = 0; i < 400 && await admin.ExecuteScalarAsync<long>("select count(*) from outbox_messages where status <> 'sent'") > 0; i++)
            {
                await Task.Delay(100, Ct);
            }

            Assert.Equal(queued, await admin.ExecuteScalarAsync<long>("select count(*) from outbox_messages where status = 'sent' and attempts = 1"));
            var ids = sink.Messages.Select(m => m.MessageId).ToList();
            Assert.Equal(queued, ids.Count);
            Assert.Equal(ids.Count, ids.Distinct().Count());
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    private static Process StartApp(Dictionary<string, string?> settings, System.Collections.Concurrent.ConcurrentQueue<string> console)
    {
        var directory = AppContext.BaseDirectory;
        var start = new ProcessStartInfo("dotnet", $"\"{Path.Combine(directory, "ClinicFlow.dll")}\"")
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Testing";
        foreach (var (key, value) in settings)
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the app.");
        // Keep its console (and never let it block on a full pipe).
        process.OutputDataReceived += (_, e) => console.Enqueue(e.Data ?? "");
        process.ErrorDataReceived += (_, e) => console.Enqueue(e.Data ?? "");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static async Task WaitReadyAsync(HttpClient http, Process process)
    {
        for (var i = 0; i < 300; i++)
        {
            Assert.False(process.HasExited, "The app exited while starting.");
            try
            {
                if ((await http.GetAsync("/health/ready", Ct)).IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }

            await Task.Delay(200, Ct);
        }

        throw new TimeoutException("The app never became ready.");
    }

    private static void Signal(Process process, string signal)
    {
        using var kill = Process.Start("kill", $"-{signal} {process.Id}") ?? throw new InvalidOperationException("No kill.");
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
