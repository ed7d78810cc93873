using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ClinicFlow.Tests.Support;

/// <summary>A local SMTP server that accepts every message MailKit sends and keeps it for assertions.</summary>
public sealed class SmtpSink : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<ReceivedMail> _messages = new();
    private readonly Task _loop;

    public SmtpSink()
    {
        _listener.Start();
        _loop = AcceptLoopAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>When set, the sink answers every RCPT with a temporary failure (the outbox must retry).</summary>
    public bool RejectAll { get; set; }

    /// <summary>How long the sink takes to accept each message (a slow provider).</summary>
    public TimeSpan AcceptDelay { get; set; }

    public IReadOnlyCollection<ReceivedMail> Messages => _messages.ToArray();

    /// <summary>Waits (at most <paramref name="timeout"/>) for a message to <paramref name="recipient"/>.</summary>
    public async Task<ReceivedMail> WaitForAsync(string recipient, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(15));
        while (DateTime.UtcNow < deadline)
        {
            var found = _messages.FirstOrDefault(m => m.To.Contains(recipient, StringComparer.OrdinalIgnoreCase));
            if (found is not null)
            {
                return found;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"No mail to {recipient} arrived.");
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }

            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using var _ = client;
        await using var stream = client.GetStream();
        using var reader = new StreamReader(stream, Encoding.ASCII);
        await using var writer = new StreamWriter(stream, Encoding.ASCII) { NewLine = "\r\n", AutoFlush = true };
        await writer.WriteLineAsync("220 sink ESMTP");
        string? from = null;
        var to = new List<string>();
        while (await reader.ReadLineAsync() is { } line)
        {
            var verb = line.Split(' ', 2)[0].ToUpperInvariant();
            switch (verb)
            {
                case "EHLO":
                case "HELO":
                    await writer.WriteLineAsync("250 sink");
                    break;
                case "MAIL":
                    from = Address(line);
                    to.Clear();
                    await writer.WriteLineAsync("250 OK");
                    break;
                case "RCPT":
                    if (RejectAll)
                    {
                        await writer.WriteLineAsync("451 try again later");
                        break;
                    }

                    to.Add(Address(line));
                    await writer.WriteLineAsync("250 OK");
                    break;
                case "DATA":
                    await writer.WriteLineAsync("354 go ahead");
                    var body = new StringBuilder();
                    while (await reader.ReadLineAsync() is { } dataLine && dataLine != ".")
                    {
                        body.AppendLine(dataLine.StartsWith("..", StringComparison.Ordinal) ? dataLine[1..] : dataLine);
                    }

                    if (AcceptDelay > TimeSpan.Zero)
                    {
                        await Task.Delay(AcceptDelay);
                    }

                    _messages.Enqueue(new ReceivedMail(from ?? "", [.. to], body.ToString()));
                    await writer.WriteLineAsync("250 queued");
                    break;
                case "QUIT":
                    await writer.WriteLineAsync("221 bye");
                    return;
                default:
                    await writer.WriteLineAsync("250 OK");
                    break;
            }
        }
    }

    private static string Address(string line)
    {
        var start = line.IndexOf('<', StringComparison.Ordinal);
        var end = line.IndexOf('>', StringComparison.Ordinal);
        return start >= 0 && end > start ? line[(start + 1)..end] : "";
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }
}

public sealed record ReceivedMail(string From, IReadOnlyList<string> To, string Raw)
{
    /// <summary>The Message-Id header (the outbox sets it to the message's id).</summary>
    public string MessageId
    {
        get
        {
            using var stream = new MemoryStream(Encoding.UTF8.GetBytes(Raw));
            return MimeKit.MimeMessage.Load(stream).MessageId ?? "";
        }
    }

    /// <summary>The decoded text of the message.</summary>
    public string Text
    {
        get
        {
            using var stream = new MemoryStream(Encoding.UTF8.GetBytes(Raw));
            return MimeKit.MimeMessage.Load(stream).TextBody ?? "";
        }
    }
}
