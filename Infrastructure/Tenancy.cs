using System.Data;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Security.Claims;
using Dapper;
using Microsoft.AspNetCore.Http.Metadata;
using Npgsql;

namespace ClinicFlow.Infrastructure;

public enum AppRole
{
    Admin,
    Doctor,
    Staff,
}

/// <summary>
/// One request's database work on one pooled connection. A request that may write (any method but
/// GET and HEAD) runs in one transaction, committed by the gate that opened it when the handler
/// succeeds and rolled back otherwise, so nothing is ever half-written. A read (GET, HEAD) needs no
/// explicit transaction: each of its statements is its own implicit transaction.
/// </summary>
/// <remarks>
/// <para>
/// The scope's settings (the tenant or the system bypass for row-level security, all
/// <c>set_config(…, true)</c>, so they end with their transaction) and, on tenant routes, the gate's
/// fail-closed check do not cost a round trip of their own: they travel in front of the handler's
/// next statement, in the same message and the same implicit or explicit transaction (one Sync).
/// The check's row is read and judged before anything the handler's statement returned; a refusal
/// discards the rest (and the gate rolls back), so the handler never sees a row of a caller the
/// check refused. A GET that writes must say so with <see cref="UseTransaction"/> (the audit and
/// the outbox do it themselves); the tests enforce it (<see cref="GuardReads"/>).
/// </para>
/// <para>
/// Statements queued with <see cref="AtCommit"/> (the audit append) travel with the <c>COMMIT</c>, in
/// one message: the clinic's audit chain head is then locked only while the server runs them and the
/// commit, never across a round trip to the app.
/// </para>
/// <para>
/// Minimal APIs bind parameters before endpoint filters run, so a handler's scope is bound empty and
/// the route's gate attaches the connection to it before the handler body executes.
/// </para>
/// </remarks>
public abstract class DbScope(HttpContext http)
{
    private const string ReadOnlySetting = ", set_config('transaction_read_only', 'on', true)";

    private const string PlanPerCallSetting = ", set_config('plan_cache_mode', 'force_custom_plan', true)";

    private NpgsqlConnection? _connection;
    private NpgsqlTransaction? _transaction;

    /// <summary>
    /// Runs reads with <c>transaction_read_only</c> on (<c>Database:GuardReads</c>), so a GET that writes
    /// without <see cref="UseTransaction"/> fails instead of writing outside a transaction. On in the
    /// tests; off by default, because setting it costs a tenant read a third of its throughput
    /// (bench/results/read-guard-2026-11-29.md).
    /// </summary>
    internal static bool GuardReads { get; set; }

    // The open transaction already holds this scope's settings (in a read, no statement keeps them).
    private bool _settingsHeld;

    // Statements that run with COMMIT, in its message (the audit append).
    private List<(string Sql, DynamicParameters Args)>? _atCommit;
    private bool _planPerCall;

    public HttpContext Http { get; } = http;

    /// <summary>Who the audit trail names for this request's changes.</summary>
    public abstract Guid? ActorId { get; }

    public abstract string ActorType { get; }

    /// <summary>Set when the request queued an outgoing message; the dispatcher is woken after commit.</summary>
    public bool OutboxTouched { get; set; }

    /// <summary>True while the gate's check has not yet travelled with a statement.</summary>
    internal bool HasPendingCheck { get; private protected set; }

    /// <summary>The request's transaction: only after <see cref="ConnectionAsync"/> (or on a writing request).</summary>
    public NpgsqlTransaction Transaction => _transaction ?? throw new InvalidOperationException(
        $"{GetType().Name} has no transaction: call ConnectionAsync first.");

    private NpgsqlConnection Open => _connection ?? throw new InvalidOperationException(
        $"{GetType().Name} used on a route without its gate (MapTenantGroup / MapSystemGroup / MapSuperadminGroup).");

    /// <summary><c>select set_config(…)</c> of this scope's settings, with the given extra settings appended.</summary>
    private protected abstract string SettingsSql(string extra);

    /// <summary>Adds the parameters <see cref="SettingsSql"/> and <see cref="CheckSql"/> name.</summary>
    private protected abstract void AddScopeParameters(DynamicParameters parameters);

    /// <summary>The gate's check statement (one row or none), while <see cref="HasPendingCheck"/>.</summary>
    private protected virtual string CheckSql => throw new InvalidOperationException("This scope has no check.");

    /// <summary>Judges the check's row: null when the caller may go on, else the refusal.</summary>
    private protected virtual ApiProblem? Accept(GateRow? row) => null;

    internal void Attach(NpgsqlConnection connection, bool writes)
    {
        _connection = connection;
        if (writes)
        {
            UseTransaction();
        }
    }

    /// <summary>
    /// Runs the rest of the request in one transaction (committed with the request's success). A read
    /// that writes calls this before its first write; the audit and the outbox call it themselves.
    /// Costs no round trip: the <c>BEGIN</c> travels with the next statement.
    /// </summary>
    public void UseTransaction()
    {
        if (_transaction is null)
        {
            // Read committed, whatever the server's default: the idempotency claim relies on it.
            _transaction = Open.BeginTransaction(IsolationLevel.ReadCommitted);
            _settingsHeld = false;
        }
    }

    /// <summary>
    /// Plans every following statement of this request for its actual parameters. Statements with
    /// optional filters — <c>(@X is null or col = @X)</c> — are auto-prepared, and a prepared statement
    /// may switch to a generic plan that cannot tell which filters are set and walks the whole clinic
    /// instead of the matching index. A setting like the tenant's: it travels with the next statement.
    /// </summary>
    public void PlanPerCall()
    {
        _planPerCall = true;
        _settingsHeld = false;
    }

    /// <summary>
    /// The connection itself, for what the query methods cannot do (binary COPY, commands of their
    /// own, helpers shared with background workers): the request then runs in its transaction with the
    /// settings in place and the gate's check passed (one round trip if they are still pending).
    /// Use <see cref="Transaction"/> with it.
    /// </summary>
    public async Task<NpgsqlConnection> ConnectionAsync(CancellationToken ct)
    {
        UseTransaction();
        if (PreludeDue)
        {
            await using var run = await RunAsync(null, null, ct);
        }

        return Open;
    }

    /// <summary>
    /// Runs the gate's check now if no statement has carried it yet (one round trip); throws the
    /// refusal for the gate to answer. Nothing to do on a scope without a check or once it passed.
    /// </summary>
    public async Task VerifyAsync(CancellationToken ct)
    {
        if (HasPendingCheck)
        {
            await using var run = await RunAsync(null, null, ct);
        }
    }

    /// <summary>How many statements wait for COMMIT (<see cref="CommitStatement"/> numbers parameter names with it).</summary>
    internal int AtCommitCount => _atCommit?.Count ?? 0;

    /// <summary>
    /// Runs <paramref name="sql"/> with the request's <c>COMMIT</c>, in the same message, after every
    /// other statement of the request; nothing of it runs if the request rolls back. Its parameter
    /// names must differ from those of every other queued statement: take the text and the names
    /// from a <see cref="CommitStatement"/>.
    /// </summary>
    internal void AtCommit(string sql, DynamicParameters args)
    {
        UseTransaction();
        (_atCommit ??= []).Add((sql, args));
    }

    /// <summary>
    /// Runs the statements queued for <c>COMMIT</c> now, for a handler that reads what they wrote (the
    /// vault event answers with its audit entry). One round trip; nothing to do when none are queued.
    /// </summary>
    public async Task RunQueuedAsync(CancellationToken ct)
    {
        if (TakeQueued() is { } queued)
        {
            await ExecuteAsync(queued.Sql, queued.Args, ct);
        }
    }

    public CommandDefinition Command(string sql, object? args, CancellationToken ct) =>
        new(sql, args, _transaction, cancellationToken: ct);

    public async Task<IEnumerable<T>> QueryAsync<T>(string sql, object? args, CancellationToken ct)
    {
        if (!PreludeDue)
        {
            return await Open.QueryAsync<T>(Command(sql, args, ct));
        }

        return await QueryPreludedAsync<T>(sql, args, ct);
    }

    public async Task<T> QuerySingleAsync<T>(string sql, object? args, CancellationToken ct)
    {
        if (!PreludeDue)
        {
            return await Open.QuerySingleAsync<T>(Command(sql, args, ct));
        }

        var rows = await QueryPreludedAsync<T>(sql, args, ct);
        return rows.Count == 1 ? rows[0] : throw new InvalidOperationException(
            rows.Count == 0 ? "Sequence contains no elements" : "Sequence contains more than one element");
    }

    public async Task<T?> QuerySingleOrDefaultAsync<T>(string sql, object? args, CancellationToken ct)
    {
        if (!PreludeDue)
        {
            return await Open.QuerySingleOrDefaultAsync<T>(Command(sql, args, ct));
        }

        var rows = await QueryPreludedAsync<T>(sql, args, ct);
        return rows.Count switch
        {
            0 => default,
            1 => rows[0],
            _ => throw new InvalidOperationException("Sequence contains more than one element"),
        };
    }

    public async Task<int> ExecuteAsync(string sql, object? args, CancellationToken ct)
    {
        if (!PreludeDue)
        {
            return await Open.ExecuteAsync(Command(sql, args, ct));
        }

        await using var run = await RunAsync(sql, args, ct);
        await run.DrainAsync(ct);
        return run.Reader.RecordsAffected;
    }

    public async Task<T?> ExecuteScalarAsync<T>(string sql, object? args, CancellationToken ct)
    {
        if (!PreludeDue)
        {
            return await Open.ExecuteScalarAsync<T>(Command(sql, args, ct));
        }

        await using var run = await RunAsync(sql, args, ct);
        var value = default(T);
        if (run.HasResult && await run.Reader.ReadAsync(ct) && !await run.Reader.IsDBNullAsync(0, ct))
        {
            value = Grid.RowParser<T>(run.Reader)(run.Reader);
        }

        await run.DrainAsync(ct);
        return value;
    }

    /// <summary>Several result sets of one batch, in one round trip with what is pending (see <see cref="Grid"/>).</summary>
    public async Task<Grid> QueryMultipleAsync(string sql, object? args, CancellationToken ct)
    {
        if (!PreludeDue)
        {
            return Grid.Over(await Open.ExecuteReaderAsync(Command(sql, args, ct)), ct);
        }

        var run = await RunAsync(sql, args, ct);
        return new Grid(run.Reader, run.HasResult, ct);
    }

    /// <summary>A streaming reader over the statement's rows (exports), positioned on its first result.</summary>
    public async Task<System.Data.Common.DbDataReader> ExecuteReaderAsync(string sql, object? args, CancellationToken ct)
    {
        if (!PreludeDue)
        {
            return await Open.ExecuteReaderAsync(Command(sql, args, ct));
        }

        var run = await RunAsync(sql, args, ct);
        return run.Reader;
    }

    internal async Task CommitAsync()
    {
        if (_transaction is null)
        {
            return;
        }

        if (TakeQueued() is not { } queued)
        {
            await _transaction.CommitAsync(CancellationToken.None);
            return;
        }

        // The queued statements and COMMIT in one message (one Sync): if a statement fails, the server
        // skips the rest, COMMIT included, and the request fails with nothing written. The check is
        // judged first (the runner has usually done it); the settings travel in front if still due.
        await VerifyAsync(CancellationToken.None);
        var text = queued.Sql + ";\ncommit";
        await Open.ExecuteAsync(PreludeDue
            ? PreludedCommand(text, queued.Args, check: false, CancellationToken.None)
            : Command(text, queued.Args, CancellationToken.None));

        // The server ended the transaction with the batch's COMMIT, and Npgsql has marked ours completed.
        await _transaction.DisposeAsync();
        _transaction = null;
    }

    // The queued statements as one batch text with all their parameters; null when none are queued.
    private (string Sql, DynamicParameters Args)? TakeQueued()
    {
        if (_atCommit is not { Count: > 0 } queued)
        {
            return null;
        }

        _atCommit = null;
        if (queued.Count == 1)
        {
            return queued[0];
        }

        var parameters = new DynamicParameters();
        foreach (var (_, args) in queued)
        {
            parameters.AddDynamicParams(args);
        }

        return (string.Join(";\n", queued.Select(q => q.Sql)), parameters);
    }

    internal async Task RollbackAsync()
    {
        // A transaction that has ended has no connection any more.
        if (_transaction?.Connection is not null)
        {
            await _transaction.RollbackAsync(CancellationToken.None);
        }
    }

    /// <summary>Something must travel in front of the next statement.</summary>
    private bool PreludeDue => HasPendingCheck || _transaction is null || !_settingsHeld;

    private CommandDefinition PreludedCommand(string? sql, object? args, bool check, CancellationToken ct)
    {
        var readOnly = _transaction is null && GuardReads;
        var text = PreludedText(sql, check, readOnly, _planPerCall);
        var parameters = new DynamicParameters(args);
        AddScopeParameters(parameters);
        return new CommandDefinition(text, parameters, _transaction, cancellationToken: ct);
    }

    // The batch text of each statement and prelude variant, kept by the statement's own string (a
    // constant in the slices), so a request does not build 1–2 KB of text again; entries go with
    // their statement (a weak table), so statements built at run time cannot grow it.
    private static readonly ConditionalWeakTable<string, string?[]> PreludedTexts = new();

    private string PreludedText(string? sql, bool check, bool readOnly, bool planPerCall)
    {
        var variant = (check ? 1 : 0) | (readOnly ? 2 : 0) | (planPerCall ? 4 : 0);
        var texts = sql is null ? null : PreludedTexts.GetValue(sql, _ => new string?[8 * ScopeKinds]);
        var slot = (ScopeKind * 8) + variant;
        if (texts?[slot] is { } cached)
        {
            return cached;
        }

        var extra = (readOnly ? ReadOnlySetting : "") + (planPerCall ? PlanPerCallSetting : "");
        var text = SettingsSql(extra) + (check ? ";\n" + CheckSql : "") + (sql is null ? "" : ";\n" + sql);
        if (texts is not null)
        {
            texts[slot] = text;
        }

        return text;
    }

    // Scope kinds whose settings text differs (tenant, system): part of the cache slot.
    private const int ScopeKinds = 2;

    private protected abstract int ScopeKind { get; }

    private async Task<List<T>> QueryPreludedAsync<T>(string sql, object? args, CancellationToken ct)
    {
        await using var run = await RunAsync(sql, args, ct);
        var rows = new List<T>();
        if (run.HasResult)
        {
            var parse = Grid.RowParser<T>(run.Reader);
            while (await run.Reader.ReadAsync(ct))
            {
                rows.Add(parse(run.Reader));
            }
        }

        await run.DrainAsync(ct);
        return rows;
    }

    private async Task<PreludedRun> RunAsync(string? sql, object? args, CancellationToken ct)
    {
        var check = HasPendingCheck;
        var reader = await Open.ExecuteReaderAsync(PreludedCommand(sql, args, check, ct));
        try
        {
            if (check)
            {
                await reader.NextResultAsync(ct);
                var row = await reader.ReadAsync(ct) ? Grid.RowParser<GateRow>(reader)(reader) : null;
                if (Accept(row) is { } refusal)
                {
                    throw new ScopeRefusedException(refusal);
                }
            }

            // Judged and in place, even if the handler's own statement fails next.
            Applied();
            var hasResult = await reader.NextResultAsync(ct);
            return new PreludedRun(reader, hasResult);
        }
        catch
        {
            await DisposeQuietlyAsync(reader);
            throw;
        }
    }

    private void Applied()
    {
        HasPendingCheck = false;
        _settingsHeld = _transaction is not null;
    }

    // A refused or failed prelude: what the handler's statement returned or raised is discarded unread.
    private static async Task DisposeQuietlyAsync(System.Data.Common.DbDataReader reader)
    {
        try
        {
            await reader.DisposeAsync();
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException or OperationCanceledException)
        {
            // The request fails or is refused anyway; the gate rolls back and returns the connection.
        }
    }

    private sealed class PreludedRun(System.Data.Common.DbDataReader reader, bool hasResult) : IAsyncDisposable
    {
        public System.Data.Common.DbDataReader Reader { get; } = reader;

        public bool HasResult { get; } = hasResult;

        public async Task DrainAsync(CancellationToken ct)
        {
            while (await Reader.NextResultAsync(ct))
            {
            }
        }

        public ValueTask DisposeAsync() => Reader.DisposeAsync();
    }
}

/// <summary>
/// A statement a request may queue for <c>COMMIT</c> more than once (<see cref="DbScope.AtCommit"/>):
/// its text and parameter names numbered by its place in the request's queue, so queued statements
/// never share a name; the first places built once. Every <c>@</c> of the text marks a parameter.
/// </summary>
internal sealed class CommitStatement
{
    private readonly string _sql;
    private readonly string[] _parameters;
    private readonly (string Sql, string[] Names)[] _first;

    public CommitStatement(string sql, params string[] parameters)
    {
        _sql = sql;
        _parameters = parameters;
        _first = [.. Enumerable.Range(0, 8).Select(Number)];
    }

    /// <summary>The text and the parameter names (in the order given) for the next place in the scope's queue.</summary>
    public (string Sql, string[] Names) Next(DbScope scope)
    {
        var place = scope.AtCommitCount;
        return place < _first.Length ? _first[place] : Number(place);
    }

    private (string Sql, string[] Names) Number(int place)
    {
        var prefix = "c" + place.ToString(System.Globalization.CultureInfo.InvariantCulture) + "_";
        return (_sql.Replace("@", "@" + prefix, StringComparison.Ordinal), [.. _parameters.Select(p => prefix + p)]);
    }
}

/// <summary>The row of the gate's fail-closed check (users joined with their clinic).</summary>
internal sealed record GateRow(string Email, string? Role, bool Active, int TokenVersion, Guid? ClinicId,
    bool? ClinicActive, string? Plan, bool? Expired, string? Country);

/// <summary>The gate's check refused the caller after the handler had started; the gate answers <see cref="Problem"/>.</summary>
internal sealed class ScopeRefusedException(ApiProblem problem) : Exception("The tenant gate refused the request.")
{
    public ApiProblem Problem { get; } = problem;
}

/// <summary>
/// The signed-in caller, resolved from the validated token and re-checked against the database
/// (fail closed). Its connection only sees the caller's clinic (row-level security).
/// </summary>
/// <remarks>
/// <see cref="UserId"/> and <see cref="ClinicId"/> come from the token and are usable at once (the
/// check refuses the request unless the database still agrees); <see cref="Role"/>, <see cref="Plan"/>,
/// <see cref="Email"/> and the clinic's country come from the database with the check, so they can be
/// read only after the handler's first statement (or <see cref="DbScope.VerifyAsync"/>).
/// </remarks>
public sealed class Tenant(HttpContext http) : DbScope(http)
{
    private const string Settings = "select set_config('app.clinic_id', coalesce(@__ScopeClinic::text, ''), true), " +
        "set_config('app.user_id', @__ScopeUser::text, true)";

    private const string Check = """
        select u.email, u.role, u.active, u.token_version, u.clinic_id,
               c.active as clinic_active, c.plan,
               (c.subscription_status = 'expired' or coalesce(c.subscription_expires_at < now(), false)) as expired,
               c.country::text as country
        from users u
        left join clinics c on c.id = u.clinic_id
        where u.id = @__ScopeUser
        """;

    private int _tokenVersion;
    private bool _verified;
    private AppRole? _role;
    private string? _plan;
    private string? _country;
    private string _email = "";

    public Guid UserId { get; private set; }

    /// <summary>The caller's clinic; <see cref="Guid.Empty"/> only on routes that allow a user without one.</summary>
    public Guid ClinicId { get; private set; }

    public bool HasClinic => ClinicId != Guid.Empty;

    public AppRole? Role => Verified(_role);

    public string? Plan => Verified(_plan);

    public string Email => Verified(_email);

    public bool IsAdmin => Role == AppRole.Admin;

    public override Guid? ActorId => UserId;

    public override string ActorType => "user";

    /// <summary><see cref="IsAdmin"/> for a handler that needs it before its first statement.</summary>
    public async Task<bool> IsAdminAsync(CancellationToken ct)
    {
        await VerifyAsync(ct);
        return IsAdmin;
    }

    /// <summary>
    /// The caller's clinic's country (ISO 3166-1 alpha-2, what national phone numbers are read with),
    /// read with the check, so it costs no round trip once a statement ran; null without a clinic.
    /// </summary>
    public async Task<string?> CountryAsync(CancellationToken ct)
    {
        await VerifyAsync(ct);
        return _country;
    }

    public static ValueTask<Tenant?> BindAsync(HttpContext context, ParameterInfo parameter)
    {
        ArgumentNullException.ThrowIfNull(context);
        var tenant = context.Features.Get<Tenant>();
        if (tenant is null)
        {
            tenant = new Tenant(context);
            context.Features.Set(tenant);
        }

        return ValueTask.FromResult<Tenant?>(tenant);
    }

    /// <summary>The token's claims, taken as given until the check confirms them.</summary>
    internal void Claim(Guid userId, Guid? clinicId, int tokenVersion)
    {
        UserId = userId;
        ClinicId = clinicId ?? Guid.Empty;
        _tokenVersion = tokenVersion;
        HasPendingCheck = true;
    }

    private protected override string SettingsSql(string extra) => Settings + extra;

    private protected override int ScopeKind => 0;

    private protected override void AddScopeParameters(DynamicParameters parameters)
    {
        parameters.Add("__ScopeUser", UserId, DbType.Guid);
        parameters.Add("__ScopeClinic", HasClinic ? ClinicId : null, DbType.Guid);
    }

    private protected override string CheckSql => Check;

    private protected override ApiProblem? Accept(GateRow? row)
    {
        if (row is null || row.TokenVersion != _tokenVersion || row.ClinicId != (HasClinic ? ClinicId : null))
        {
            return ApiProblem.Unauthorized();
        }

        if (!row.Active)
        {
            return ApiProblem.Forbidden(ErrorCodes.UserInactive);
        }

        if (TenantGate.Refuse(row, Http.GetEndpoint()?.Metadata) is { } refusal)
        {
            return refusal;
        }

        _role = TenantGate.ParseRole(row.Role);
        _plan = row.Plan;
        _country = row.Country;
        _email = row.Email;
        _verified = true;
        return null;
    }

    private T Verified<T>(T value) => _verified ? value : throw new InvalidOperationException(
        "The caller's role, plan and email are known after the request's first statement: await VerifyAsync (or IsAdminAsync) first.");
}

/// <summary>
/// The explicitly named system connection for paths with no tenant yet (login, public links,
/// webhooks, superadmin): it bypasses row-level security, so its SQL must resolve the tenant first.
/// </summary>
public sealed class SystemScope(HttpContext http) : DbScope(http)
{
    private Guid? _actorId;

    public override Guid? ActorId => _actorId;

    private string _actorType = "public";

    public override string ActorType => _actorType;

    internal void ActAsKind(string actorType) => _actorType = actorType;

    /// <summary>Names the user an anonymous request acted for once it is known (login, register).</summary>
    public void ActAs(Guid userId) => _actorId = userId;

    public static ValueTask<SystemScope?> BindAsync(HttpContext context, ParameterInfo parameter)
    {
        ArgumentNullException.ThrowIfNull(context);
        var scope = context.Features.Get<SystemScope>();
        if (scope is null)
        {
            scope = new SystemScope(context);
            context.Features.Set(scope);
        }

        return ValueTask.FromResult<SystemScope?>(scope);
    }

    private protected override string SettingsSql(string extra) => SystemConnection.BypassSql + extra;

    private protected override int ScopeKind => 1;

    private protected override void AddScopeParameters(DynamicParameters parameters)
    {
    }
}

/// <summary>Route metadata read by <see cref="TenantGate"/>.</summary>
public sealed record RolesMetadata(IReadOnlyList<AppRole> Roles);

public sealed record PlanMetadata(IReadOnlyList<string> Plans);

/// <summary>Routes that a signed-in user without a clinic may call (profile, create a practice).</summary>
public sealed record AllowNoClinicMetadata;

/// <summary>Routes that stay open when the subscription expired, so a clinic can still see itself and pay.</summary>
public sealed record AllowExpiredMetadata;

public static class TenancyConventions
{
    public static TBuilder RequireRoles<TBuilder>(this TBuilder builder, params AppRole[] roles)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new RolesMetadata(roles)).ProducesErrors(StatusCodes.Status403Forbidden);

    public static TBuilder RequireAdmin<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireRoles(AppRole.Admin);

    /// <summary>ADMIN, ARZT of the consent product: admins and doctors, never reception staff.</summary>
    public static TBuilder RequireDoctorOrAdmin<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireRoles(AppRole.Admin, AppRole.Doctor);

    /// <summary>"Pro+" features: anything above basic. On basic the gate answers 403 PLAN_UPGRADE_REQUIRED.</summary>
    public static TBuilder RequireProPlan<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new PlanMetadata(["pro", "enterprise"]));

    /// <summary>
    /// Route areas that are Pro+ as a whole (SPEC §3: dental, analytics). Declared once here, every
    /// route of <see cref="MapTenantGroup"/> under one of them requires the plan, so a new slice in
    /// the area cannot forget it. A single Pro+ route elsewhere adds <see cref="RequireProPlan"/>.
    /// </summary>
    public static readonly IReadOnlyList<string> ProPlanAreas = ["/dental"];

    public static bool IsProPlanArea(string prefix)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var path = "/" + prefix.Trim('/');
        return ProPlanAreas.Any(area => path == area || path.StartsWith(area + "/", StringComparison.Ordinal));
    }

    /// <summary>
    /// The route holds its connection through slow work that is not the database's: a client sending
    /// or reading (an upload, a download, an export, an import), a password or PIN hash (about 150 ms
    /// of CPU at OWASP cost), a call to Stripe. Its gate draws from the large pool, not the request
    /// pool (<see cref="RequestDataSource"/>).
    /// </summary>
    public static TBuilder UsesLargePool<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new LargePoolMetadata());

    public static TBuilder AllowNoClinic<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new AllowNoClinicMetadata());

    public static TBuilder AllowExpiredSubscription<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new AllowExpiredMetadata());

    /// <summary>Every tenant-scoped slice starts here: authenticated, fail-closed checked, rate limited.</summary>
    public static RouteGroupBuilder MapTenantGroup(this IEndpointRouteBuilder app, string prefix)
    {
        var group = app.MapGroup("/api" + prefix);
        group.RequireAuthorization()
            .RequireRateLimiting(RateLimits.General)
            .AddEndpointFilter<TenantGate>()
            .WithTags(TagOf(prefix))
            .ProducesErrors(StatusCodes.Status400BadRequest, StatusCodes.Status401Unauthorized, StatusCodes.Status402PaymentRequired,
                StatusCodes.Status403Forbidden, StatusCodes.Status404NotFound, StatusCodes.Status429TooManyRequests, StatusCodes.Status503ServiceUnavailable);
        group.WithMetadata(new SecurityMetadata("Bearer"), new IdempotentMetadata());
        if (IsProPlanArea(prefix))
        {
            group.RequireProPlan();
        }

        return group;
    }

    /// <summary>Public, tenant-less routes (login, public links): the explicitly named system connection.</summary>
    /// <remarks>A null <paramref name="rateLimitPolicy"/> leaves limiting to the route (login counts only failures).</remarks>
    public static RouteGroupBuilder MapSystemGroup(this IEndpointRouteBuilder app, string prefix, string? rateLimitPolicy)
    {
        var group = app.MapGroup("/api" + prefix);
        if (rateLimitPolicy is not null)
        {
            group.RequireRateLimiting(rateLimitPolicy);
        }

        group.AllowAnonymous()
            .AddEndpointFilter(new SystemGate("public"))
            .WithMetadata(new IdempotentMetadata())
            .WithTags(TagOf(prefix))
            .ProducesErrors(StatusCodes.Status400BadRequest, StatusCodes.Status429TooManyRequests, StatusCodes.Status503ServiceUnavailable);
        return group;
    }

    /// <summary>Operator routes: X-Admin-Key, then the system connection acting as superadmin.</summary>
    public static RouteGroupBuilder MapSuperadminGroup(this IEndpointRouteBuilder app, string prefix)
    {
        var group = app.MapGroup("/api/superadmin" + prefix);
        group.AllowAnonymous()
            .RequireRateLimiting(RateLimits.General)
            .AddEndpointFilter<SuperadminGate>()
            .AddEndpointFilter(new SystemGate("superadmin"))
            .WithTags("Superadmin")
            .ProducesErrors(StatusCodes.Status400BadRequest, StatusCodes.Status401Unauthorized, StatusCodes.Status404NotFound,
                StatusCodes.Status429TooManyRequests, StatusCodes.Status503ServiceUnavailable);
        group.WithMetadata(new SecurityMetadata("AdminKey"), new IdempotentMetadata());
        return group;
    }

    internal static string TagOf(string prefix)
    {
        var first = prefix.Trim('/').Split('/')[0];
        return first.Length == 0 ? "General" : char.ToUpperInvariant(first[0]) + first[1..];
    }
}

/// <summary>Names the security scheme an endpoint needs, for the OpenAPI document.</summary>
public sealed record SecurityMetadata(string Scheme);

/// <summary>Shared by both gates: run the handler, then commit only if it succeeded.</summary>
internal static class ScopeRunner
{
    public static async ValueTask<object?> RunAsync(DbScope scope, EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        try
        {
            return await RunCheckedAsync(scope, context, next);
        }
        catch (ScopeRefusedException refused)
        {
            await scope.RollbackAsync();
            return refused.Problem;
        }
        catch (Exception e) when (e is not OperationCanceledException && scope.HasPendingCheck)
        {
            // The handler failed before any statement carried the gate's check: the check still
            // answers first, so a refused caller learns nothing from the handler's failure.
            await scope.RollbackAsync();
            if (await RefusalAsync(scope, context.HttpContext.RequestAborted) is { } refusal)
            {
                return refusal;
            }

            throw;
        }
    }

    private static async ValueTask<object?> RunCheckedAsync(DbScope scope, EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var ct = context.HttpContext.RequestAborted;

        // An Idempotency-Key is claimed inside the transaction and its answer kept in it (Idempotency.cs).
        var idempotent = await Idempotency.ClaimAsync(scope, ct);
        if (idempotent?.Answer is { } answer)
        {
            await scope.VerifyAsync(ct);
            await scope.RollbackAsync();
            return answer;
        }

        var result = await next(context);

        // A handler that answered without a statement (a 400 from validation, say) has not carried
        // the gate's check yet: it runs now, and a refusal replaces the handler's answer.
        await scope.VerifyAsync(ct);
        if (StatusOf(result) is >= 400)
        {
            await scope.RollbackAsync();
            return result;
        }

        if (idempotent is not null)
        {
            result = await idempotent.KeepAsync(scope, result, ct);
        }

        await scope.CommitAsync();
        if (scope.OutboxTouched)
        {
            context.HttpContext.RequestServices.GetRequiredService<OutboxSignal>().Notify();
        }

        return result;
    }

    private static async Task<ApiProblem?> RefusalAsync(DbScope scope, CancellationToken ct)
    {
        try
        {
            await scope.VerifyAsync(ct);
            return null;
        }
        catch (ScopeRefusedException refused)
        {
            return refused.Problem;
        }
    }

    public static async Task<NpgsqlConnection?> TryOpenAsync(HttpContext http)
    {
        try
        {
            var source = http.GetEndpoint()?.Metadata.GetMetadata<LargePoolMetadata>() is null
                ? http.RequestServices.GetRequiredService<RequestDataSource>().DataSource
                : http.RequestServices.GetRequiredService<NpgsqlDataSource>();
            return await source.OpenConnectionAsync(http.RequestAborted);
        }
        catch (Exception e) when (Database.IsUnavailable(e))
        {
            return null;
        }
    }

    /// <summary>GET and HEAD read; every other method may write and runs in one transaction.</summary>
    public static bool Writes(HttpRequest request) => !HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method);

    private static int? StatusOf(object? result) => result switch
    {
        INestedHttpResult nested => StatusOf(nested.Result),
        IStatusCodeHttpResult status => status.StatusCode,
        _ => null,
    };
}

/// <summary>
/// The fail-closed check of SPEC §2 and tenant resolution, in no round trip of their own: the tenant
/// settings for row-level security and the check of the user and clinic state the token must still
/// match travel with the handler's first statement (see <see cref="DbScope"/>), and the check is
/// judged before anything that statement returned is read.
/// </summary>
public sealed class TenantGate : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        var http = context.HttpContext;
        var principal = http.User;
        if (!Guid.TryParse(principal.FindFirstValue("sub"), out var userId)
            || !int.TryParse(principal.FindFirstValue("tv"), out var tokenVersion))
        {
            return ApiProblem.Unauthorized();
        }

        Guid? clinicClaim = Guid.TryParse(principal.FindFirstValue("clinic_id"), out var c) ? c : null;

        await using var connection = await ScopeRunner.TryOpenAsync(http);
        if (connection is null)
        {
            return ApiProblem.Of(StatusCodes.Status503ServiceUnavailable, ErrorCodes.ServiceUnavailable);
        }

        var tenant = http.Features.Get<Tenant>() ?? new Tenant(http);
        tenant.Attach(connection, ScopeRunner.Writes(http.Request));
        tenant.Claim(userId, clinicClaim, tokenVersion);
        return await ScopeRunner.RunAsync(tenant, context, next);
    }

    public static AppRole? ParseRole(string? role) => role switch
    {
        "admin" => AppRole.Admin,
        "doctor" => AppRole.Doctor,
        "staff" => AppRole.Staff,
        _ => null,
    };

    internal static ApiProblem? Refuse(GateRow row, EndpointMetadataCollection? metadata)
    {
        if (row.ClinicId is null)
        {
            return metadata?.GetMetadata<AllowNoClinicMetadata>() is null
                ? ApiProblem.Forbidden(ErrorCodes.Forbidden, new(
                    "Create or join a practice first.",
                    "Primero cree una clínica o únase a una.",
                    "Legen Sie zuerst eine Praxis an oder treten Sie einer bei."))
                : null;
        }

        var exempt = metadata?.GetMetadata<AllowExpiredMetadata>() is not null;
        if (row.ClinicActive == false && !exempt)
        {
            return ApiProblem.Forbidden(ErrorCodes.Forbidden, new(
                "This clinic has been deactivated.", "Esta clínica fue desactivada.", "Diese Praxis wurde deaktiviert."));
        }

        if (row.Expired == true && !exempt)
        {
            return ApiProblem.Of(StatusCodes.Status402PaymentRequired, ErrorCodes.SubscriptionExpired);
        }

        if (metadata?.GetMetadata<RolesMetadata>() is { } roles && (ParseRole(row.Role) is not { } role || !roles.Roles.Contains(role)))
        {
            return ApiProblem.Forbidden();
        }

        if (metadata?.GetMetadata<PlanMetadata>() is { } plans && !plans.Plans.Contains(row.Plan ?? ""))
        {
            return ApiProblem.Forbidden(ErrorCodes.PlanUpgradeRequired);
        }

        return null;
    }
}

/// <summary>Opens the system connection for a tenant-less route (see <see cref="SystemScope"/>).</summary>
public sealed class SystemGate(string actorType) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        var http = context.HttpContext;
        await using var connection = await ScopeRunner.TryOpenAsync(http);
        if (connection is null)
        {
            return ApiProblem.Of(StatusCodes.Status503ServiceUnavailable, ErrorCodes.ServiceUnavailable);
        }

        var scope = http.Features.Get<SystemScope>() ?? new SystemScope(http);
        scope.Attach(connection, ScopeRunner.Writes(http.Request));
        scope.ActAsKind(actorType);
        return await ScopeRunner.RunAsync(scope, context, next);
    }
}

/// <summary>
/// The system connection outside a request (background workers, start-up seeding): a transaction
/// in which row-level security is bypassed, and only in it (set_config local).
/// </summary>
public sealed class SystemConnection : IAsyncDisposable
{
    private SystemConnection(NpgsqlConnection connection, NpgsqlTransaction transaction)
    {
        Connection = connection;
        Transaction = transaction;
    }

    public NpgsqlConnection Connection { get; }

    public NpgsqlTransaction Transaction { get; }

    public static async Task<SystemConnection> BeginAsync(NpgsqlDataSource db, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(db);
        var connection = await db.OpenConnectionAsync(ct);
        try
        {
            var transaction = await connection.BeginTransactionAsync(ct);
            await BypassAsync(connection, transaction, ct);
            return new SystemConnection(connection, transaction);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    internal const string BypassSql = "select set_config('app.bypass_rls', 'on', true)";

    private static Task<int> BypassAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken ct) =>
        connection.ExecuteAsync(new CommandDefinition(BypassSql, transaction: transaction, cancellationToken: ct));

    public async ValueTask DisposeAsync()
    {
        await Transaction.DisposeAsync();
        await Connection.DisposeAsync();
    }
}
