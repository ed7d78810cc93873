using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace ClinicFlow.Tests.Support;

/// <summary>
/// A real, throwaway PostgreSQL for the test run: CLINICFLOW_TEST_PG when a developer points at their
/// own server, otherwise a cluster this class initialises and starts on loopback and removes at the end.
/// </summary>
public sealed class PostgresCluster : IAsyncDisposable
{
    public const string AppRole = "clinicflow_app";
    public const string AppPassword = "clinicflow_app";

    private readonly string? _dataDir;
    private readonly string? _binDir;

    private PostgresCluster(string adminConnectionString, string? dataDir, string? binDir)
    {
        AdminConnectionString = adminConnectionString;
        _dataDir = dataDir;
        _binDir = binDir;
    }

    /// <summary>A superuser connection string (tests read and tamper through it; the app never uses it).</summary>
    public string AdminConnectionString { get; }

    public static async Task<PostgresCluster> StartAsync()
    {
        var cluster = Environment.GetEnvironmentVariable("CLINICFLOW_TEST_PG") is { Length: > 0 } external
            ? new PostgresCluster(external, null, null)
            : await StartLocalAsync();
        await cluster.EnsureAppRoleAsync();
        return cluster;
    }

    /// <summary>Creates an empty database owned by the app's plain (non-superuser) role.</summary>
    public async Task<string> CreateDatabaseAsync(string name)
    {
        await using var admin = new NpgsqlConnection(AdminConnectionString);
        await admin.OpenAsync();
        await using (var cmd = new NpgsqlCommand($"create database \"{name}\" owner {AppRole}", admin))
        {
            await cmd.ExecuteNonQueryAsync();
        }

        var app = new NpgsqlConnectionStringBuilder(AdminConnectionString)
        {
            Database = name,
            Username = AppRole,
            Password = AppPassword,
            // The app pools as in production; only the admin string opens a backend per use.
            Pooling = true,
        };
        return app.ConnectionString;
    }

    public string AdminConnectionStringFor(string database) =>
        new NpgsqlConnectionStringBuilder(AdminConnectionString) { Database = database }.ConnectionString;

    private async Task EnsureAppRoleAsync()
    {
        await using var admin = new NpgsqlConnection(AdminConnectionString);
        await admin.OpenAsync();
        await using var cmd = new NpgsqlCommand($"""
            do $$ begin
              if not exists (select from pg_roles where rolname = '{AppRole}') then
                create role {AppRole} login password '{AppPassword}' nosuperuser nobypassrls;
              end if;
            end $$;
            """, admin);
        await cmd.ExecuteNonQueryAsync();
    }

    private static async Task<PostgresCluster> StartLocalAsync()
    {
        var binDir = FindBinDir();
        var root = Path.Combine(Path.GetTempPath(), "clinicflow-pg-" + Guid.NewGuid().ToString("N")[..12]);
        var dataDir = Path.Combine(root, "data");
        Directory.CreateDirectory(root);
        var asPostgres = Environment.UserName == "root";
        if (asPostgres)
        {
            await RunAsync("chown", $"postgres:postgres {root}", asPostgres: false);
        }

        var port = FreePort();
        await RunAsync(Path.Combine(binDir, "initdb"), $"-D {dataDir} -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync", asPostgres);
        var options = $"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off " +
                      "-c full_page_writes=off -c max_connections=300 -c shared_buffers=128MB";
        await RunAsync(Path.Combine(binDir, "pg_ctl"), $"-D {dataDir} -l {root}/server.log -o \"{options}\" -w -t 60 start", asPostgres);
        var cs = new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = port,
            Username = "postgres",
            Database = "postgres",
            Pooling = false,
        }.ConnectionString;
        return new PostgresCluster(cs, dataDir, binDir);
    }

    public async Task StopAsync()
    {
        if (_dataDir is null || _binDir is null)
        {
            return;
        }

        await RunAsync(Path.Combine(_binDir, "pg_ctl"), $"-D {_dataDir} -m immediate -w stop", Environment.UserName == "root");
    }

    /// <summary>Starts a cluster that was stopped (the fail-closed tests take the database away and back).</summary>
    public async Task RestartAsync()
    {
        if (_dataDir is null || _binDir is null)
        {
            return;
        }

        await RunAsync(Path.Combine(_binDir, "pg_ctl"), $"-D {_dataDir} -w -t 60 start", Environment.UserName == "root");
    }

    public bool IsLocal => _dataDir is not null;

    public async ValueTask DisposeAsync()
    {
        if (_dataDir is null)
        {
            return;
        }

        try
        {
            await StopAsync();
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(_dataDir)!, recursive: true);
        }
    }

    private static string FindBinDir()
    {
        var candidates = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql")
                .Select(d => Path.Combine(d, "bin"))
                .Where(d => File.Exists(Path.Combine(d, "pg_ctl")))
                .OrderByDescending(d => int.TryParse(Path.GetFileName(Path.GetDirectoryName(d)), out var v) ? v : 0)
                .ToList()
            : [];
        return candidates.FirstOrDefault()
            ?? throw new InvalidOperationException(
                "No PostgreSQL server binaries found under /usr/lib/postgresql. Install the 'postgresql' package, " +
                "or set CLINICFLOW_TEST_PG to an admin connection string of your own server.");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task RunAsync(string file, string arguments, bool asPostgres)
    {
        var start = asPostgres
            ? new ProcessStartInfo("runuser", $"-u postgres -- {file} {arguments}")
            : new ProcessStartInfo(file, arguments);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {file}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {arguments} failed ({process.ExitCode}): {await stdout} {await stderr}");
        }
    }
}
