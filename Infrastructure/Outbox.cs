using System.Text.Json;
using System.Threading.Channels;
using Dapper;
using MailKit.Net.Smtp;
using MailKit.Security;
using Microsoft.Extensions.Options;
using MimeKit;
using Npgsql;

namespace ClinicFlow.Infrastructure;

public sealed class OutboxOptions
{
    /// <summary>How often the dispatcher looks for due messages when nothing wakes it.</summary>
    public double PollSeconds { get; set; } = 5;

    public int BatchSize { get; set; } = 20;

    public int MaxAttempts { get; set; } = 8;

    /// <summary>First retry delay; each further attempt doubles it, capped at one hour.</summary>
    public double RetryBaseSeconds { get; set; } = 30;

    /// <summary>How long a claimed message stays claimed before another instance may retry it.</summary>
    public double LeaseSeconds { get; set; } = 120;

    public bool Enabled { get; set; } = true;
}

public sealed class SmtpOptions
{
    public string Host { get; set; } = "localhost";

    public int Port { get; set; } = 25;

    public string? User { get; set; }

    public string? Password { get; set; }

    public string From { get; set; } = "ClinicFlow <no-reply@clinicflow.local>";

    /// <summary>Auto (STARTTLS when offered), None, StartTls or SslOnConnect.</summary>
    public SecureSocketOptions Security { get; set; } = SecureSocketOptions.Auto;
}

/// <summary>A message that leaves through a channel (email, WhatsApp).</summary>
public sealed record OutboxMessage(Guid Id, Guid? ClinicId, string Channel, string Recipient, string Payload, int Attempts);

public interface IOutboxChannel
{
    string Name { get; }

    /// <summary>Sends the message; returns the provider's message id when it gives one. Throws on failure.</summary>
    Task<string?> SendAsync(OutboxMessage message, CancellationToken ct);
}

/// <summary>
/// Wakes a polling worker right after a request committed work for it, instead of at the next poll.
/// Waiting never throws: it returns when woken, when the poll interval passed or when the worker is
/// stopping (its loop checks its own token), so a stopped worker ends cleanly rather than faulted.
/// </summary>
public class WakeSignal
{
    private readonly Channel<bool> _channel = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    public void Notify() => _channel.Writer.TryWrite(true);

    public async Task WaitAsync(TimeSpan timeout, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            await _channel.Reader.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            // the poll interval passed, or the worker is stopping
        }
    }
}

/// <summary>Wakes the outbox dispatcher.</summary>
public sealed class OutboxSignal : WakeSignal
{
}

public static class Outbox
{
    public const string Email = "email";

    /// <summary>Payloads are camelCase JSON, like everything else the service writes.</summary>
    public static readonly JsonSerializerOptions PayloadJson = new(JsonSerializerDefaults.Web);

    private const string EnqueueSql = """
        insert into outbox_messages (id, clinic_id, channel, recipient, payload)
        values (@Id, @ClinicId, @Channel, @Recipient, @Payload::jsonb)
        """;

    public static IServiceCollection AddOutbox(this IServiceCollection services)
    {
        services.AddOptions<OutboxOptions>().BindConfiguration("Outbox");
        services.AddOptions<SmtpOptions>().BindConfiguration("Smtp");
        services.AddSingleton<OutboxSignal>();
        services.AddSingleton<IOutboxChannel, SmtpEmailChannel>();
        services.AddSingleton<OutboxDispatcher>();
        services.AddHostedService(sp => sp.GetRequiredService<OutboxDispatcher>());
        return services;
    }

    /// <summary>Queues an email in the request's transaction: it leaves only if the request commits.</summary>
    public static async Task EnqueueEmailAsync(this DbScope scope, Guid? clinicId, string to, string subject, string body, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(scope);
        scope.UseTransaction();
        await scope.ExecuteAsync(EnqueueSql, new
        {
            Id = Guid.CreateVersion7(),
            ClinicId = clinicId,
            Channel = Email,
            Recipient = to,
            Payload = JsonSerializer.Serialize(new EmailPayload(subject, body), PayloadJson),
        }, ct);
        scope.OutboxTouched = true;
    }
}

public sealed record EmailPayload(string Subject, string Body);

/// <summary>
/// Sends due outbox messages. Claims with FOR UPDATE SKIP LOCKED and a lease, so several instances
/// never take the same message; failures retry with exponential backoff until MaxAttempts. On
/// shutdown the message being sent finishes (a send cut halfway could go out twice) and the rest of
/// the claimed batch is handed back at once, so another instance takes it without waiting for the lease.
/// </summary>
public sealed partial class OutboxDispatcher(
    NpgsqlDataSource db,
    IEnumerable<IOutboxChannel> channels,
    OutboxSignal signal,
    IOptions<OutboxOptions> options,
    ILogger<OutboxDispatcher> logger) : BackgroundService
{
    private const string ClaimSql = """
        update outbox_messages m
           set status = 'sending', attempts = m.attempts + 1, locked_until = now() + make_interval(secs => @Lease)
         where m.id in (select id from outbox_messages
                         where (status = 'pending' and next_attempt_at <= now())
                            or (status = 'sending' and locked_until < now())
                         order by next_attempt_at
                         limit @Batch
                         for update skip locked)
        returning m.id, m.clinic_id, m.channel, m.recipient, m.payload::text as payload, m.attempts
        """;

    private const string SentSql = """
        update outbox_messages
           set status = 'sent', sent_at = now(), locked_until = null, last_error = null, provider_message_id = @ProviderId,
               payload = case when channel = 'email' then payload - 'body' else payload end
         where id = @Id
        """;

    private const string FailedSql = """
        update outbox_messages
           set status = case when attempts >= @MaxAttempts then 'failed' else 'pending' end,
               next_attempt_at = now() + make_interval(secs => @Delay),
               locked_until = null,
               last_error = @Error
         where id = @Id and status = 'sending'
        """;

    // A channel refused the message: cancelled (no longer wanted) or given up (it can never go).
    private const string DroppedSql = """
        update outbox_messages
           set status = case when @Failed then 'failed' else 'cancelled' end, locked_until = null, last_error = @Error
         where id = @Id and status = 'sending'
        """;

    // Hands claimed, unsent messages back: as if never claimed, so the attempt does not count.
    private const string ReleaseSql = """
        update outbox_messages
           set status = 'pending', attempts = attempts - 1, locked_until = null
         where id = any(@Ids) and status = 'sending'
        """;

    private readonly Dictionary<string, IOutboxChannel> _channels = channels.ToDictionary(c => c.Name);

    /// <summary>
    /// False once the dispatch loop has ended while the app still runs (readiness reports it); true
    /// when the outbox is switched off on purpose.
    /// </summary>
    public bool IsHealthy => !options.Value.Enabled || ExecuteTask is not { IsCompleted: true };

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        if (!settings.Enabled)
        {
            return;
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                while (await DispatchBatchAsync(stoppingToken) == settings.BatchSize)
                {
                }
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested && Database.IsUnavailable(e))
            {
                // Nothing is lost: the messages wait in the table until the database is back.
                LogDatabaseUnavailable(logger, e.Message);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                // Stopped on purpose: the loop ends cleanly, which the host does not take for a crash.
                break;
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                LogDispatchFailed(logger, e);
            }

            await signal.WaitAsync(TimeSpan.FromSeconds(settings.PollSeconds), stoppingToken);
        }
    }

    /// <summary>Claims and sends one batch; returns how many it claimed.</summary>
    public async Task<int> DispatchBatchAsync(CancellationToken ct)
    {
        var settings = options.Value;
        List<OutboxMessage> claimed;
        await using (var system = await SystemConnection.BeginAsync(db, ct))
        {
            claimed = (await system.Connection.QueryAsync<OutboxMessage>(new CommandDefinition(ClaimSql,
                new { Lease = settings.LeaseSeconds, Batch = settings.BatchSize }, system.Transaction, cancellationToken: ct))).ToList();
            await system.Transaction.CommitAsync(ct);
        }

        for (var i = 0; i < claimed.Count; i++)
        {
            if (ct.IsCancellationRequested)
            {
                await ReleaseAsync(claimed.Skip(i).Select(m => m.Id).ToArray());
                return 0;
            }

            // Not cancelled by shutdown: a send cut halfway may have gone out and would be sent again.
            await SendOneAsync(claimed[i], settings, CancellationToken.None);
        }

        return claimed.Count;
    }

    private async Task ReleaseAsync(Guid[] ids)
    {
        await using var system = await SystemConnection.BeginAsync(db, CancellationToken.None);
        await system.Connection.ExecuteAsync(ReleaseSql, new { Ids = ids }, system.Transaction);
        await system.Transaction.CommitAsync(CancellationToken.None);
        LogReleased(logger, ids.Length);
    }

    private async Task SendOneAsync(OutboxMessage message, OutboxOptions settings, CancellationToken ct)
    {
        string? providerId = null;
        string? error = null;
        OutboxDropException? dropped = null;
        try
        {
            providerId = _channels.TryGetValue(message.Channel, out var channel)
                ? await channel.SendAsync(message, ct)
                : throw new InvalidOperationException($"No channel '{message.Channel}'.");
        }
        catch (OutboxDropException e)
        {
            dropped = e;
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            error = e.Message.Length > 500 ? e.Message[..500] : e.Message;
            LogSendFailed(logger, message.Id, message.Channel, message.Attempts, error);
        }

        await using var system = await SystemConnection.BeginAsync(db, CancellationToken.None);
        if (dropped is not null)
        {
            await system.Connection.ExecuteAsync(DroppedSql,
                new { message.Id, Failed = dropped.PermanentFailure, Error = dropped.Message }, system.Transaction);
        }
        else if (error is null)
        {
            await system.Connection.ExecuteAsync(SentSql, new { message.Id, ProviderId = providerId }, system.Transaction);
        }
        else
        {
            var delay = Math.Min(3600, settings.RetryBaseSeconds * Math.Pow(2, message.Attempts - 1));
            await system.Connection.ExecuteAsync(FailedSql,
                new { message.Id, settings.MaxAttempts, Delay = delay, Error = error }, system.Transaction);
        }

        await system.Transaction.CommitAsync(CancellationToken.None);
    }

    [LoggerMessage(EventId = 10, Level = LogLevel.Error, Message = "Outbox dispatch failed")]
    private static partial void LogDispatchFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 13, Level = LogLevel.Information, Message = "Outbox handed {Count} claimed messages back on shutdown")]
    private static partial void LogReleased(ILogger logger, int count);

    [LoggerMessage(EventId = 12, Level = LogLevel.Warning, Message = "Outbox dispatch paused, database unavailable: {Reason}")]
    private static partial void LogDatabaseUnavailable(ILogger logger, string reason);

    [LoggerMessage(EventId = 11, Level = LogLevel.Warning, Message = "Outbox message {Id} on {Channel} failed (attempt {Attempt}): {Error}")]
    private static partial void LogSendFailed(ILogger logger, Guid id, string channel, int attempt, string error);
}

/// <summary>The email channel: MailKit over SMTP.</summary>
public sealed class SmtpEmailChannel(IOptions<SmtpOptions> options) : IOutboxChannel
{
    public string Name => Outbox.Email;

    public async Task<string?> SendAsync(OutboxMessage message, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(message);
        var settings = options.Value;
        var payload = JsonSerializer.Deserialize<EmailPayload>(message.Payload, Outbox.PayloadJson)
            ?? throw new InvalidOperationException("Empty email payload.");
        using var mime = new MimeMessage();
        mime.From.Add(MailboxAddress.Parse(settings.From));
        mime.To.Add(MailboxAddress.Parse(message.Recipient));
        mime.Subject = payload.Subject;
        mime.MessageId = $"{message.Id}@clinicflow";
        mime.Body = new TextPart("plain") { Text = payload.Body };

        using var client = new SmtpClient { Timeout = 15_000 };
        await client.ConnectAsync(settings.Host, settings.Port, settings.Security, ct);
        if (!string.IsNullOrEmpty(settings.User))
        {
            await client.AuthenticateAsync(settings.User, settings.Password ?? "", ct);
        }

        var response = await client.SendAsync(mime, ct);
        await client.DisconnectAsync(true, ct);
        return response;
    }
}
