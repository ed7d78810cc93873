using System.Buffers;
using System.Diagnostics;

namespace ClinicFlow.Infrastructure;

/// <summary>
/// Every answer carries <c>X-Request-Id</c>: the client's own (up to 64 safe characters) or else
/// the request's W3C trace id, which continues a caller's <c>traceparent</c>. The same id is the
/// request's <see cref="HttpContext.TraceIdentifier"/>, sits in every error body (<c>requestId</c>)
/// and in the scope of every log line written while the request runs.
/// </summary>
public static class RequestIds
{
    public const string Header = "X-Request-Id";

    private static readonly SearchValues<char> Safe = SearchValues.Create(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:");

    public static bool IsAcceptable(string? value) =>
        !string.IsNullOrEmpty(value) && value.Length <= 64 && !value.AsSpan().ContainsAnyExcept(Safe);

    public static IApplicationBuilder UseRequestIds(this IApplicationBuilder app)
    {
        var logger = app.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger("ClinicFlow.Requests");
        return app.Use(async (context, next) =>
        {
            string? sent = context.Request.Headers[Header];
            var id = IsAcceptable(sent) ? sent!
                : Activity.Current is { } activity ? activity.TraceId.ToHexString()
                : Guid.CreateVersion7().ToString("N");
            context.TraceIdentifier = id;

            // Set when the answer starts: the exception handler clears headers set earlier.
            context.Response.OnStarting(static state =>
            {
                var http = (HttpContext)state;
                http.Response.Headers[Header] = http.TraceIdentifier;
                return Task.CompletedTask;
            }, context);

            using (logger.BeginScope(new RequestScope(id)))
            {
                await next(context);
            }
        });
    }

    /// <summary>A log scope that formatters render as <c>RequestId: …</c> and JSON logs as a property.</summary>
    private sealed class RequestScope(string id) : IReadOnlyList<KeyValuePair<string, object>>
    {
        public int Count => 1;

        public KeyValuePair<string, object> this[int index] =>
            index == 0 ? new("RequestId", id) : throw new ArgumentOutOfRangeException(nameof(index));

        public IEnumerator<KeyValuePair<string, object>> GetEnumerator()
        {
            yield return this[0];
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

        public override string ToString() => $"RequestId:{id}";
    }
}
