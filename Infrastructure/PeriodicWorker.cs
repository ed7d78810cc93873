namespace ClinicFlow.Infrastructure;

/// <summary>
/// The loop of a background job that works in bounded batches (retention purge, waitlist expiry):
/// on each wake it runs passes until one comes back short of a full batch (at most
/// <see cref="MaxPassesPerWake"/>), then sleeps for the interval. A database outage pauses it with a
/// warning and nothing lost (the rows wait); any other failure is logged and the next wake tries
/// again. Switched off, it never starts; stopped, it ends cleanly.
/// </summary>
public abstract partial class PeriodicWorker(ILogger logger) : BackgroundService
{
    public const int MaxPassesPerWake = 100;

    /// <summary>The job's name in its log lines.</summary>
    protected abstract string JobName { get; }

    protected abstract bool Enabled { get; }

    protected abstract TimeSpan Interval { get; }

    /// <summary>Runs one pass; answers whether it was full, so that more may be waiting.</summary>
    protected abstract Task<bool> RunPassAsync(CancellationToken ct);

    protected sealed override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!Enabled)
        {
            return;
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                for (var pass = 0; pass < MaxPassesPerWake && await RunPassAsync(stoppingToken); pass++)
                {
                }
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested && Database.IsUnavailable(e))
            {
                LogDatabaseUnavailable(logger, JobName, e.Message);
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                LogFailed(logger, JobName, e);
            }

            // Stopping ends the wait without an exception: the loop ends cleanly, never as a crash.
            await Task.Delay(Interval, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    [LoggerMessage(EventId = 60, Level = LogLevel.Error, Message = "{Job} failed")]
    private static partial void LogFailed(ILogger logger, string job, Exception exception);

    [LoggerMessage(EventId = 61, Level = LogLevel.Warning, Message = "{Job} paused, database unavailable: {Reason}")]
    private static partial void LogDatabaseUnavailable(ILogger logger, string job, string reason);
}
