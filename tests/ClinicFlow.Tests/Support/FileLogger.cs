using Microsoft.Extensions.Logging;

namespace ClinicFlow.Tests.Support;

/// <summary>Keeps the app's warnings and errors of a test run in one file (TestResults/app.log) for diagnosis.</summary>
/// <remarks>Scopes are written too, as the console does, so a line shows the request id it belongs to.</remarks>
public sealed class FileLoggerProvider(string path) : ILoggerProvider, ISupportExternalScope
{
    private readonly Lock _gate = new();

    private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    public ILogger CreateLogger(string categoryName) => new FileLogger(this, categoryName);

    public void Dispose()
    {
    }

    private void Write(string line)
    {
        lock (_gate)
        {
            File.AppendAllText(path, line + Environment.NewLine);
        }
    }

    private sealed class FileLogger(FileLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => owner._scopes.Push(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                var scopes = new System.Text.StringBuilder();
                owner._scopes.ForEachScope((scope, sb) => sb.Append(" [").Append(scope).Append(']'), scopes);
                owner.Write($"{DateTime.UtcNow:O} {logLevel} {category}{scopes}: {formatter(state, exception)} {exception}");
            }
        }
    }
}
