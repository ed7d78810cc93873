using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Dapper;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Npgsql;

namespace ClinicFlow.Infrastructure;

public sealed class IdempotencyOptions
{
    /// <summary>How often the background worker deletes expired keys.</summary>
    public double PurgeMinutes { get; set; } = 10;

    /// <summary>Most rows one purge statement deletes, so a large backlog never holds one long transaction.</summary>
    public int PurgeBatchSize { get; set; } = 5000;
}

/// <summary>Route metadata: the gate honours an <c>Idempotency-Key</c> on this route's POST and PATCH.</summary>
public sealed record IdempotentMetadata;

/// <summary>
/// The <c>Idempotency-Key</c> header of SPEC §3 "Beyond the seeds", declared once and applied by the
/// route-group helpers. The first request with a key runs; its answer is kept in PostgreSQL in the
/// same transaction as its change, so a crash can never leave one without the other; a retry with the
/// same body gets the kept answer. Concurrent requests with one key take a transaction-scoped advisory
/// lock: the one holding it runs, the others answer 409 at once (see docs/decisions.md).
/// </summary>
public static class Idempotency
{
    public const string Header = "Idempotency-Key";
    public const string ReplayedHeader = "Idempotent-Replayed";
    public const string KeyReused = "IDEMPOTENCY_KEY_REUSED";
    public const string InProgress = "IDEMPOTENCY_IN_PROGRESS";
    public const int MaxKeyLength = 255;

    /// <summary>How long a kept answer is replayed.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(24);

    public static IServiceCollection AddIdempotency(this IServiceCollection services)
    {
        services.AddOptions<IdempotencyOptions>().BindConfiguration("Idempotency");
        services.AddHostedService<IdempotencyPurger>();
        return services;
    }

    /// <summary>
    /// Lets the gate hash the raw body after the endpoint has bound it: only for a POST or PATCH that
    /// carries the header, so requests without one are never buffered.
    /// </summary>
    public static IApplicationBuilder UseIdempotencyKeys(this IApplicationBuilder app) =>
        app.Use((context, next) =>
        {
            if (Applies(context.Request) && context.Request.Headers.ContainsKey(Header))
            {
                context.Request.EnableBuffering();
            }

            return next(context);
        });

    internal static bool Applies(HttpRequest request) => HttpMethods.IsPost(request.Method) || HttpMethods.IsPatch(request.Method);

    /// <summary>1–255 printable ASCII characters (0x20–0x7E).</summary>
    public static bool IsValidKey(string? key) =>
        key is { Length: > 0 and <= MaxKeyLength } && key.All(c => c is >= ' ' and <= '~');

    /// <summary>
    /// Called by the gate inside the request's transaction before the handler: null when the request
    /// carries no key (nothing to do), else a claim that either already holds the answer (replay,
    /// 400, 409, 422) or will keep the handler's.
    /// </summary>
    internal static async Task<IdempotentRequest?> ClaimAsync(DbScope scope, CancellationToken ct)
    {
        var http = scope.Http;
        if (!Applies(http.Request) || !http.Request.Headers.TryGetValue(Header, out var values)
            || http.GetEndpoint()?.Metadata.GetMetadata<IdempotentMetadata>() is null)
        {
            return null;
        }

        var key = values.Count == 1 ? values[0] : null;
        if (!IsValidKey(key))
        {
            return new IdempotentRequest(ApiProblem.Validation(Header, new Text(
                $"{Header} must be 1 to {MaxKeyLength} printable ASCII characters, sent once.",
                $"{Header} debe tener de 1 a {MaxKeyLength} caracteres ASCII imprimibles y enviarse una sola vez.",
                $"{Header} muss aus 1 bis {MaxKeyLength} druckbaren ASCII-Zeichen bestehen und einmal gesendet werden.")));
        }

        var (clinicId, caller) = CallerOf(scope);
        var route = http.Request.Method + " " + ((http.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? http.Request.Path.Value);
        var args = new
        {
            ClinicId = clinicId,
            Caller = caller,
            Route = route,
            Key = key!,
            Lock = LockOf(clinicId, caller, route, key!),
        };

        var fingerprint = await FingerprintAsync(http.Request, ct);
        await using var results = await scope.QueryMultipleAsync(ClaimSql, args, ct);
        var locked = await results.ReadSingleAsync<bool>();
        var kept = await results.ReadSingleOrDefaultAsync<KeptRow>();
        if (!locked)
        {
            return new IdempotentRequest(ApiProblem.Conflict(InProgress, new Text(
                "A request with this Idempotency-Key is still running. Retry in a moment.",
                "Una solicitud con esta Idempotency-Key aún está en curso. Reintente en un momento.",
                "Eine Anfrage mit diesem Idempotency-Key läuft noch. Bitte gleich erneut versuchen.")));
        }

        if (kept is not null)
        {
            return new IdempotentRequest(CryptographicOperations.FixedTimeEquals(kept.Fingerprint, fingerprint)
                ? new KeptAnswer(kept.StatusCode, kept.Location, kept.ContentType, kept.Body, Replayed: true)
                : ApiProblem.Of(StatusCodes.Status422UnprocessableEntity, KeyReused, new Text(
                    "This Idempotency-Key was used with another request. Use a new key for a new request.",
                    "Esta Idempotency-Key se usó con otra solicitud. Use una clave nueva para cada solicitud.",
                    "Dieser Idempotency-Key wurde für eine andere Anfrage verwendet. Verwenden Sie für jede Anfrage einen neuen.")));
        }

        return new IdempotentRequest(args, fingerprint);
    }

    // Tenant callers are their user in their clinic (row-level security keeps clinics apart); a user
    // without a clinic keeps its keys under the platform id; public routes are their client IP.
    private static (Guid ClinicId, string Caller) CallerOf(DbScope scope) => scope switch
    {
        Tenant tenant => (tenant.ClinicId, "user:" + tenant.UserId.ToString("D")),
        SystemScope { ActorType: "superadmin" } => (Guid.Empty, "superadmin"),
        _ => (Guid.Empty, "ip:" + scope.Http.ClientIp()),
    };

    private static long LockOf(Guid clinicId, string caller, string route, string key)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"idempotency\n{clinicId:D}\n{caller}\n{route}\n{key}"));
        return BinaryPrimitives.ReadInt64BigEndian(hash);
    }

    /// <summary>SHA-256 of method, path with query, and the raw body bytes.</summary>
    private static async Task<byte[]> FingerprintAsync(HttpRequest request, CancellationToken ct)
    {
        if (!request.Body.CanSeek)
        {
            throw new InvalidOperationException($"{Header} needs the request body buffered: call UseIdempotencyKeys() in the pipeline.");
        }

        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.UTF8.GetBytes($"{request.Method}\n{request.PathBase}{request.Path}{request.QueryString}\n"));
        request.Body.Position = 0;
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(buffer, ct)) > 0)
        {
            sha.AppendData(buffer, 0, read);
        }

        // A handler that reads the body itself (after binding read nothing) finds it from the start.
        request.Body.Position = 0;
        return sha.GetHashAndReset();
    }

    // Two statements, so the read takes its snapshot after the lock is held: a first request that
    // committed before we got the lock is always seen, and its change never runs twice.
    private const string ClaimSql = """
        select pg_try_advisory_xact_lock(@Lock);
        select fingerprint, status_code, location, content_type, body
        from idempotency_keys
        where clinic_id = @ClinicId and caller = @Caller and route = @Route and key = @Key and expires_at > now();
        """;

    internal const string KeepSql = """
        insert into idempotency_keys (clinic_id, caller, route, key, fingerprint, status_code, location, content_type, body, expires_at)
        values (@ClinicId, @Caller, @Route, @Key, @Fingerprint, @StatusCode, @Location, @ContentType, @Body, now() + @Lifetime)
        on conflict (clinic_id, caller, route, key) do update
           set fingerprint = excluded.fingerprint, status_code = excluded.status_code, location = excluded.location,
               content_type = excluded.content_type, body = excluded.body, created_at = now(), expires_at = excluded.expires_at
         where idempotency_keys.expires_at <= now()
        """;

    private sealed record KeptRow(byte[] Fingerprint, int StatusCode, string? Location, string? ContentType, byte[] Body);
}

/// <summary>One request's claim on its key: the answer to give at once, or what to keep after the handler.</summary>
internal sealed class IdempotentRequest
{
    private readonly object? _args;
    private readonly byte[]? _fingerprint;

    public IdempotentRequest(IResult answer) => Answer = answer;

    public IdempotentRequest(object args, byte[] fingerprint)
    {
        _args = args;
        _fingerprint = fingerprint;
    }

    /// <summary>Set when the handler must not run: a replay or a refusal.</summary>
    public IResult? Answer { get; }

    /// <summary>
    /// Renders the handler's successful result into memory, keeps it in the request's transaction
    /// (the gate commits right after), and answers with the rendered bytes.
    /// </summary>
    public async Task<object?> KeepAsync(DbScope scope, object? result, CancellationToken ct)
    {
        var http = scope.Http;
        var toRender = result switch
        {
            IResult r => r,
            string text => TypedResults.Text(text),
            _ => TypedResults.Json(result),
        };

        var prior = http.Features.GetRequiredFeature<IHttpResponseBodyFeature>();
        using var buffer = new MemoryStream();
        var capture = new StreamResponseBodyFeature(buffer, prior);
        http.Features.Set<IHttpResponseBodyFeature>(capture);
        try
        {
            await toRender.ExecuteAsync(http);
            await capture.CompleteAsync();
        }
        finally
        {
            http.Features.Set(prior);
        }

        var answer = new KeptAnswer(http.Response.StatusCode, NullIfEmpty(http.Response.Headers.Location.ToString()),
            http.Response.ContentType, buffer.ToArray(), Replayed: false);
        var keys = new DynamicParameters(_args);
        keys.AddDynamicParams(new
        {
            Fingerprint = _fingerprint,
            answer.StatusCode,
            answer.Location,
            answer.ContentType,
            answer.Body,
            Lifetime = Idempotency.Lifetime,
        });
        await scope.ExecuteAsync(Idempotency.KeepSql, keys, ct);
        return answer;
    }

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;
}

/// <summary>A kept answer: status, the headers that matter and the body bytes, as first given.</summary>
internal sealed record KeptAnswer(int StatusCode, string? Location, string? ContentType, byte[] Body, bool Replayed)
    : IResult, IStatusCodeHttpResult
{
    int? IStatusCodeHttpResult.StatusCode => StatusCode;

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        var response = httpContext.Response;
        response.StatusCode = StatusCode;
        if (Location is not null)
        {
            response.Headers.Location = Location;
        }

        if (ContentType is not null)
        {
            response.ContentType = ContentType;
        }

        if (Replayed)
        {
            response.Headers[Idempotency.ReplayedHeader] = "true";
        }

        response.ContentLength = Body.Length;
        if (Body.Length > 0)
        {
            await response.Body.WriteAsync(Body, httpContext.RequestAborted);
        }
    }
}

/// <summary>Deletes expired keys in bounded batches; several instances may run it (deletes are idempotent).</summary>
public sealed partial class IdempotencyPurger(NpgsqlDataSource db, IOptions<IdempotencyOptions> options, ILogger<IdempotencyPurger> logger)
    : BackgroundService
{
    private const string PurgeSql = """
        delete from idempotency_keys
        where ctid = any(array(select ctid from idempotency_keys where expires_at <= now() limit @Batch))
        """;

    /// <summary>One purge pass: deletes every expired key, batch by batch; answers how many.</summary>
    public async Task<int> PurgeAsync(CancellationToken ct)
    {
        var total = 0;
        for (var round = 0; round < 1000; round++)
        {
            await using var system = await SystemConnection.BeginAsync(db, ct);
            var deleted = await system.Connection.ExecuteAsync(new CommandDefinition(PurgeSql,
                new { Batch = options.Value.PurgeBatchSize }, system.Transaction, cancellationToken: ct));
            await system.Transaction.CommitAsync(ct);
            total += deleted;
            if (deleted < options.Value.PurgeBatchSize)
            {
                break;
            }
        }

        return total;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = TimeSpan.FromMinutes(Math.Max(options.Value.PurgeMinutes, 0.01));
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(interval, stoppingToken);
                var deleted = await PurgeAsync(stoppingToken);
                if (deleted > 0)
                {
                    LogPurged(logger, deleted);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException)
            {
                LogPurgeFailed(logger, e);
            }
        }
    }

    [LoggerMessage(EventId = 40, Level = LogLevel.Information, Message = "Purged {Count} expired idempotency keys")]
    private static partial void LogPurged(ILogger logger, int count);

    [LoggerMessage(EventId = 41, Level = LogLevel.Warning, Message = "Purging expired idempotency keys failed; retrying at the next interval")]
    private static partial void LogPurgeFailed(ILogger logger, Exception exception);
}
