using System.Net.Sockets;
using System.Reflection;
using Dapper;
using FluentMigrator;
using FluentMigrator.Runner;
using Npgsql;

namespace ClinicFlow.Infrastructure;

/// <summary>Database start-up: the one data source, Dapper conventions and migrations.</summary>
public static class Database
{
    private const long MigrationLockKey = 0x436c696e6963466c; // "ClinicFl": one migrator at a time across replicas

    /// <summary>The newest migration this build knows; /health/ready compares it with the database.</summary>
    public static long LatestMigration { get; } = typeof(Database).Assembly.GetTypes()
        .Select(t => t.GetCustomAttribute<MigrationAttribute>()?.Version ?? 0)
        .Max();

    public static IServiceCollection AddDatabase(this IServiceCollection services)
    {
        DefaultTypeMap.MatchNamesWithUnderscores = true;
        SqlMapper.AddTypeHandler(new DateTimeOffsetHandler());
        services.AddSingleton(sp =>
        {
            var configuration = sp.GetRequiredService<IConfiguration>();
            DbScope.GuardReads = configuration.GetValue<bool>("Database:GuardReads");
            return Build(sp, "clinicflow", _ => { });
        });
        services.AddSingleton(sp =>
        {
            var configuration = sp.GetRequiredService<IConfiguration>();
            return new RequestDataSource(Build(sp, "clinicflow-requests", csb =>
            {
                var size = configuration.GetValue<int?>("Database:RequestPoolSize") ?? DefaultRequestPoolSize;
                csb.MaxPoolSize = Math.Max(1, Math.Min(size, csb.MaxPoolSize));
                csb.MinPoolSize = Math.Min(csb.MinPoolSize, csb.MaxPoolSize);
            }));
        });
        return services;
    }

    /// <summary>
    /// The request pool's default size: three connections per core. Measured on 2 cores (app and
    /// database on one machine): 4 to 6 connections served <c>/me</c> at 0.62× the readiness probe with
    /// p99 1.4×, 100 at 0.45× with p99 3.4× (bench/results/runtime-settings-2026-11-29.md).
    /// </summary>
    public static int DefaultRequestPoolSize => Math.Max(4, 3 * Environment.ProcessorCount);

    private static NpgsqlDataSource Build(IServiceProvider sp, string name, Action<NpgsqlConnectionStringBuilder> configure)
    {
        var builder = new NpgsqlDataSourceBuilder(ConnectionString(sp.GetRequiredService<IConfiguration>())) { Name = name };
        var csb = builder.ConnectionStringBuilder;
        // Fail closed fast: a request waits at most a few seconds for the database, then 503.
        if (!ExplicitlySet(csb, "Timeout"))
        {
            csb.Timeout = 3;
        }

        if (!ExplicitlySet(csb, "Max Auto Prepare"))
        {
            csb.MaxAutoPrepare = 50;
        }

        configure(csb);
        builder.UseLoggerFactory(sp.GetRequiredService<ILoggerFactory>());
        return builder.Build();
    }

    public static string ConnectionString(IConfiguration configuration) =>
        configuration.GetConnectionString("Postgres") is { Length: > 0 } cs
            ? cs
            : throw new InvalidOperationException(
                "ConnectionStrings:Postgres is not set. Set the ConnectionStrings__Postgres environment variable, " +
                "or start the service with ./run, which starts a local PostgreSQL under .data/.");

    /// <summary>Applies pending migrations under an advisory lock, so several replicas can start at once.</summary>
    public static async Task MigrateDatabaseAsync(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var connectionString = ConnectionString(app.Configuration);
        await using var lockConnection = new NpgsqlConnection(connectionString);
        await lockConnection.OpenAsync();
        await lockConnection.ExecuteAsync("select pg_advisory_lock(@Key)", new { Key = MigrationLockKey });
        try
        {
            await using var migrator = new ServiceCollection()
                .AddFluentMigratorCore()
                .ConfigureRunner(runner => runner
                    .AddPostgres()
                    .WithGlobalConnectionString(connectionString)
                    .ScanIn(typeof(Database).Assembly).For.Migrations())
                .AddLogging(logging => logging.AddFluentMigratorConsole().SetMinimumLevel(LogLevel.Warning))
                .BuildServiceProvider(false);
            migrator.GetRequiredService<IMigrationRunner>().MigrateUp();
        }
        finally
        {
            await lockConnection.ExecuteAsync("select pg_advisory_unlock(@Key)", new { Key = MigrationLockKey });
        }

        var role = await lockConnection.QuerySingleAsync<(bool Super, bool Bypass)>(
            "select rolsuper, rolbypassrls from pg_roles where rolname = current_user");
        if (role.Super || role.Bypass)
        {
            Log.RlsBypassed(app.Logger);
        }
    }

    /// <summary>True when the exception means the database could not be reached (→ 503), not a bug.</summary>
    public static bool IsUnavailable(Exception exception) => exception switch
    {
        PostgresException pg => pg.SqlState.StartsWith("08", StringComparison.Ordinal)
            || pg.SqlState is PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown
                or PostgresErrorCodes.CannotConnectNow or PostgresErrorCodes.TooManyConnections,
        NpgsqlException npgsql => npgsql.IsTransient || npgsql.InnerException is SocketException or TimeoutException or IOException,
        SocketException or TimeoutException => true,
        _ => exception.InnerException is { } inner && IsUnavailable(inner),
    };

    private static bool ExplicitlySet(NpgsqlConnectionStringBuilder builder, string key) =>
        builder.ConnectionString.Contains(key, StringComparison.OrdinalIgnoreCase);

    // Npgsql returns timestamptz as a UTC DateTime; the API speaks DateTimeOffset.
    private sealed class DateTimeOffsetHandler : SqlMapper.TypeHandler<DateTimeOffset>
    {
        public override DateTimeOffset Parse(object value) => value switch
        {
            DateTime dt => new DateTimeOffset(DateTime.SpecifyKind(dt, DateTimeKind.Utc)),
            DateTimeOffset dto => dto,
            _ => throw new InvalidCastException($"Cannot read {value.GetType()} as DateTimeOffset."),
        };

        public override void SetValue(System.Data.IDbDataParameter parameter, DateTimeOffset value)
        {
            ArgumentNullException.ThrowIfNull(parameter);
            parameter.Value = value.ToUniversalTime();
        }
    }
}

/// <summary>
/// The small pool the gates of API requests draw from (<c>Database:RequestPoolSize</c>, at most the
/// connection string's <c>Maximum Pool Size</c>). A few connections per database core serve more
/// requests, with shorter tails, than one per concurrent request: the rest wait a moment in the pool
/// instead of contending inside PostgreSQL. Routes that hold their connection through slow work that
/// is not the database's (a client's upload or download, an export, an import, a password hash, a
/// call to Stripe: <see cref="LargePoolMetadata"/>) and the background workers use the large pool
/// (<see cref="NpgsqlDataSource"/>) instead, so slow clients or a wave of sign-ins never take the
/// request pool.
/// </summary>
public sealed class RequestDataSource(NpgsqlDataSource dataSource) : IAsyncDisposable
{
    public NpgsqlDataSource DataSource { get; } = dataSource;

    public ValueTask DisposeAsync() => DataSource.DisposeAsync();
}

/// <summary>A route that holds its connection through slow work that is not the database's; its gate uses the large pool.</summary>
public sealed record LargePoolMetadata;

internal static partial class Log
{
    [LoggerMessage(EventId = 2, Level = LogLevel.Warning,
        Message = "The database role is a superuser or has BYPASSRLS: row-level security is not enforced. Use a plain role in production.")]
    public static partial void RlsBypassed(ILogger logger);
}
