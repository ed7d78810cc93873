using ClinicFlow.Infrastructure;
using Dapper;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

[assembly: AssemblyFixture(typeof(ClinicFlow.Tests.Support.AppFixture))]

namespace ClinicFlow.Tests.Support;

/// <summary>
/// One per test run: a real PostgreSQL, an SMTP sink and the real app booted by Alba on a fresh
/// database (which boots through the app's own migrations). Test classes isolate by clinic.
/// </summary>
public sealed class AppFixture : IAsyncLifetime
{
    public const string SuperadminKey = "test-superadmin-key-0123456789abcdef";
    public const string SyncSecret = "test-sync-secret-0123456789abcdef";
    public const string PublicBaseUrl = "https://app.clinicflow.test";

    public string SigningKeyPem { get; } = SigningKeys.NewPem();

    public string SecretsKey { get; } = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    public PostgresCluster Cluster { get; private set; } = null!;

    public SmtpSink Smtp { get; } = new();

    /// <summary>The local fake of Stripe's API every host of the run talks to.</summary>
    public StripeFake Stripe { get; private set; } = null!;
    public const string WhatsAppAppSecret = "test-whatsapp-app-secret-0123456789";
    public const string WhatsAppVerifyToken = "test-whatsapp-verify-token";

    /// <summary>The fake WhatsApp Cloud API every host posts to unless a test gives it its own.</summary>
    public GraphFake Graph { get; private set; } = null!;

    public IAlbaHost Host { get; private set; } = null!;

    public string DatabaseName { get; private set; } = null!;

    /// <summary>The main database as the app connects to it: a plain role, subject to row-level security.</summary>
    public string AppConnectionString { get; private set; } = null!;

    /// <summary>Superuser access to the main test database, for asserting on and tampering with rows.</summary>
    public string AdminConnectionString => Cluster.AdminConnectionStringFor(DatabaseName);

    private readonly List<(IAlbaHost Host, string Database)> _extraHosts = [];

    /// <summary>Where the app's warnings and errors of this run go.</summary>
    public static string LogPath { get; } = Path.Combine(AppContext.BaseDirectory, "app.log");

    public async ValueTask InitializeAsync()
    {
        Cluster = await PostgresCluster.StartAsync();
        Stripe = await StripeFake.StartAsync();
        Graph = await GraphFake.StartAsync();
        (Host, DatabaseName) = await BootAsync(null);
    }

    /// <summary>Another app instance on its own database, with settings of its own (low rate limits, …).</summary>
    public async Task<IAlbaHost> StartHostAsync(IDictionary<string, string?> settings) =>
        (await StartIsolatedAsync(settings)).Host;

    /// <summary>Like <see cref="StartHostAsync"/>, also naming its database and replacing services.</summary>
    public async Task<IsolatedHost> StartIsolatedAsync(IDictionary<string, string?> settings, Action<IServiceCollection>? services = null)
    {
        var (host, database) = await BootAsync(settings, services);
        lock (_extraHosts)
        {
            _extraHosts.Add((host, database));
        }

        return new IsolatedHost(host, Cluster.AdminConnectionStringFor(database));
    }

    public Dictionary<string, string?> BaseSettings(string connectionString)
    {
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = connectionString,
            ["Jwt:SigningKeys:0"] = SigningKeyPem,
            ["Superadmin:ApiKey"] = SuperadminKey,
            ["Secrets:EncryptionKey"] = SecretsKey,
            ["Auth:SyncSecret"] = SyncSecret,
            // Hashing at OWASP cost takes ~150 ms; tests check behaviour, not cost (docs/security.md).
            ["Auth:PasswordIterations"] = "1000",
            // A GET that writes without asking for a transaction fails here (25006), not in production.
            ["Database:GuardReads"] = "true",
            // Test classes run in parallel against one app, some holding locks on purpose: the small
            // request pool of production (sized for throughput) would make them wait on each other.
            ["Database:RequestPoolSize"] = "50",
            ["PublicBaseUrl"] = PublicBaseUrl,
            ["Smtp:Host"] = "127.0.0.1",
            ["Smtp:Port"] = Smtp.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Smtp:Security"] = "None",
            ["Outbox:PollSeconds"] = "0.2",
            ["Outbox:RetryBaseSeconds"] = "0.2",
            ["Stripe:SecretKey"] = StripeFake.SecretKey,
            ["Stripe:WebhookSecret"] = StripeFake.WebhookSecret,
            ["Stripe:ApiBase"] = Stripe.BaseUrl,
            ["Stripe:MaxNetworkRetries"] = "0",
            ["Stripe:Prices:basic:month"] = "price_basic_month",
            ["Stripe:Prices:pro:month"] = "price_pro_month",
            ["Stripe:Prices:pro:year"] = "price_pro_year",
            ["Stripe:Prices:enterprise:year"] = "price_enterprise_year",
            ["WhatsApp:GraphBaseUrl"] = Graph.BaseUrl,
            ["WhatsApp:AppSecret"] = WhatsAppAppSecret,
            ["WhatsApp:VerifyToken"] = WhatsAppVerifyToken,
            // The webhook wakes the worker; the poll only picks up retries.
            ["WhatsApp:InboxPollSeconds"] = "1",
        };
        foreach (var group in new[] { "FailedAuth", "Register", "Demo", "Ics", "PublicLinks", "General" })
        {
            settings[$"RateLimits:{group}:PermitLimit"] = "1000000";
        }

        return settings;
    }

    private async Task<(IAlbaHost, string)> BootAsync(IDictionary<string, string?>? overrides, Action<IServiceCollection>? services = null)
    {
        var database = "clinicflow_test_" + Guid.NewGuid().ToString("N")[..16];
        var connectionString = await Cluster.CreateDatabaseAsync(database);
        AppConnectionString ??= connectionString;
        var settings = BaseSettings(connectionString);
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        var host = await AlbaHost.For<Program>(
            web => web.UseEnvironment("Testing")
                .ConfigureLogging(logging => logging.AddProvider(new FileLoggerProvider(LogPath)))
                .ConfigureServices(s => services?.Invoke(s)),
            ConfigurationOverride.Create(settings));
        return (host, database);
    }

    public async Task<T> ScalarAsync<T>(string sql, object? args = null)
    {
        await using var connection = new NpgsqlConnection(AdminConnectionString);
        return await connection.ExecuteScalarAsync<T>(sql, args) ?? throw new InvalidOperationException($"No value for: {sql}");
    }

    public async Task<IReadOnlyList<T>> QueryAsync<T>(string sql, object? args = null)
    {
        await using var connection = new NpgsqlConnection(AdminConnectionString);
        return (await connection.QueryAsync<T>(sql, args)).ToList();
    }

    public async Task ExecuteAsync(string sql, object? args = null)
    {
        await using var connection = new NpgsqlConnection(AdminConnectionString);
        await connection.ExecuteAsync(sql, args);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (host, _) in _extraHosts)
        {
            await host.DisposeAsync();
        }

        if (Host is not null)
        {
            await Host.DisposeAsync();
        }

        await Smtp.DisposeAsync();
        if (Stripe is not null)
        {
            await Stripe.DisposeAsync();
        }

        if (Graph is not null)
        {
            await Graph.DisposeAsync();
        }

        NpgsqlConnection.ClearAllPools();
        if (Cluster is not null)
        {
            await Cluster.DisposeAsync();
        }
    }
}

/// <summary>An extra app instance and superuser access to its own database.</summary>
public sealed record IsolatedHost(IAlbaHost Host, string AdminConnectionString);
