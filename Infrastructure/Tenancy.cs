using System.Data;
using System.Reflection;
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
/// One request's database work: one connection, one transaction, committed by the gate that opened
/// it when the handler succeeds and rolled back otherwise, so nothing is ever half-written.
/// </summary>
/// <remarks>
/// Minimal APIs bind parameters before endpoint filters run, so a handler's scope is bound empty and
/// the route's gate attaches the connection to it before the handler body executes.
/// </remarks>
public abstract class DbScope(HttpContext http)
{
    private NpgsqlConnection? _connection;
    private NpgsqlTransaction? _transaction;

    public NpgsqlConnection Connection => _connection ?? throw NotAttached();

    public NpgsqlTransaction Transaction => _transaction ?? throw NotAttached();

    public HttpContext Http { get; } = http;

    /// <summary>Who the audit trail names for this request's changes.</summary>
    public abstract Guid? ActorId { get; }

    public abstract string ActorType { get; }

    /// <summary>Set when the request queued an outgoing message; the dispatcher is woken after commit.</summary>
    public bool OutboxTouched { get; set; }

    internal void Attach(NpgsqlConnection connection, NpgsqlTransaction transaction)
    {
        _connection = connection;
        _transaction = transaction;
    }

    private InvalidOperationException NotAttached() =>
        new($"{GetType().Name} used on a route without its gate (MapTenantGroup / MapSystemGroup / MapSuperadminGroup).");

    /// <summary>
    /// Plans every statement of this transaction for its actual parameters. Statements with optional
    /// filters — <c>(@X is null or col = @X)</c> — are auto-prepared, and a prepared statement may
    /// switch to a generic plan that cannot tell which filters are set and walks the whole clinic
    /// instead of the matching index. Local to the request's transaction.
    /// </summary>
    public Task PlanPerCallAsync(CancellationToken ct) =>
        ExecuteAsync("select set_config('plan_cache_mode', 'force_custom_plan', true)", null, ct);

    public CommandDefinition Command(string sql, object? args, CancellationToken ct) =>
        new(sql, args, Transaction, cancellationToken: ct);

    public Task<IEnumerable<T>> QueryAsync<T>(string sql, object? args, CancellationToken ct) =>
        Connection.QueryAsync<T>(Command(sql, args, ct));

    public Task<T> QuerySingleAsync<T>(string sql, object? args, CancellationToken ct) =>
        Connection.QuerySingleAsync<T>(Command(sql, args, ct));

    public Task<T?> QuerySingleOrDefaultAsync<T>(string sql, object? args, CancellationToken ct) =>
        Connection.QuerySingleOrDefaultAsync<T>(Command(sql, args, ct));

    public Task<int> ExecuteAsync(string sql, object? args, CancellationToken ct) =>
        Connection.ExecuteAsync(Command(sql, args, ct));

    public Task<T?> ExecuteScalarAsync<T>(string sql, object? args, CancellationToken ct) =>
        Connection.ExecuteScalarAsync<T>(Command(sql, args, ct));
}

/// <summary>
/// The signed-in caller, resolved from the validated token and re-checked against the database
/// (fail closed). Its connection only sees the caller's clinic (row-level security).
/// </summary>
public sealed class Tenant(HttpContext http) : DbScope(http)
{
    public Guid UserId { get; internal set; }

    /// <summary>The caller's clinic; <see cref="Guid.Empty"/> only on routes that allow a user without one.</summary>
    public Guid ClinicId { get; internal set; }

    public bool HasClinic => ClinicId != Guid.Empty;

    public AppRole? Role { get; internal set; }

    public string? Plan { get; internal set; }

    public string Email { get; internal set; } = "";

    public bool IsAdmin => Role == AppRole.Admin;

    public override Guid? ActorId => UserId;

    public override string ActorType => "user";

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
        // An Idempotency-Key is claimed inside the transaction and its answer kept in it (Idempotency.cs).
        var idempotent = await Idempotency.ClaimAsync(scope, context.HttpContext.RequestAborted);
        if (idempotent?.Answer is { } answer)
        {
            await scope.Transaction.RollbackAsync(context.HttpContext.RequestAborted);
            return answer;
        }

        var result = await next(context);
        if (StatusOf(result) is >= 400)
        {
            await scope.Transaction.RollbackAsync(context.HttpContext.RequestAborted);
            return result;
        }

        if (idempotent is not null)
        {
            result = await idempotent.KeepAsync(scope, result, context.HttpContext.RequestAborted);
        }

        await scope.Transaction.CommitAsync(CancellationToken.None);
        if (scope.OutboxTouched)
        {
            context.HttpContext.RequestServices.GetRequiredService<OutboxSignal>().Notify();
        }

        return result;
    }

    public static async Task<NpgsqlConnection?> TryOpenAsync(HttpContext http)
    {
        try
        {
            return await http.RequestServices.GetRequiredService<NpgsqlDataSource>().OpenConnectionAsync(http.RequestAborted);
        }
        catch (Exception e) when (Database.IsUnavailable(e))
        {
            return null;
        }
    }

    private static int? StatusOf(object? result) => result switch
    {
        INestedHttpResult nested => StatusOf(nested.Result),
        IStatusCodeHttpResult status => status.StatusCode,
        _ => null,
    };
}

/// <summary>
/// The fail-closed check of SPEC §2 and tenant resolution in one round trip: begin, set the
/// tenant for row-level security, and read the user and clinic state the token must still match.
/// </summary>
public sealed class TenantGate : IEndpointFilter
{
    private const string CheckSql = """
        select u.email, u.role, u.active, u.token_version, u.clinic_id,
               c.active as clinic_active, c.plan,
               (c.subscription_status = 'expired' or coalesce(c.subscription_expires_at < now(), false)) as expired
        from users u
        left join clinics c on c.id = u.clinic_id
        where u.id = $1
        """;

    private sealed record CheckRow(string Email, string? Role, bool Active, int TokenVersion, Guid? ClinicId,
        bool? ClinicActive, string? Plan, bool? Expired);

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

        await using var transaction = await connection.BeginTransactionAsync(http.RequestAborted);
        CheckRow? row;
        try
        {
            row = await CheckAsync(connection, transaction, userId, clinicClaim, http.RequestAborted);
        }
        catch (Exception e) when (Database.IsUnavailable(e))
        {
            return ApiProblem.Of(StatusCodes.Status503ServiceUnavailable, ErrorCodes.ServiceUnavailable);
        }

        if (row is null || row.TokenVersion != tokenVersion || row.ClinicId != clinicClaim)
        {
            return ApiProblem.Unauthorized();
        }

        if (!row.Active)
        {
            return ApiProblem.Forbidden(ErrorCodes.UserInactive);
        }

        var metadata = http.GetEndpoint()?.Metadata;
        if (Refuse(row, metadata) is { } refusal)
        {
            return refusal;
        }

        var tenant = http.Features.Get<Tenant>() ?? new Tenant(http);
        tenant.Attach(connection, transaction);
        tenant.UserId = userId;
        tenant.ClinicId = row.ClinicId ?? Guid.Empty;
        tenant.Role = ParseRole(row.Role);
        tenant.Plan = row.Plan;
        tenant.Email = row.Email;
        return await ScopeRunner.RunAsync(tenant, context, next);
    }

    public static AppRole? ParseRole(string? role) => role switch
    {
        "admin" => AppRole.Admin,
        "doctor" => AppRole.Doctor,
        "staff" => AppRole.Staff,
        _ => null,
    };

    private static async Task<CheckRow?> CheckAsync(NpgsqlConnection connection, NpgsqlTransaction transaction,
        Guid userId, Guid? clinicId, CancellationToken ct)
    {
        // set_config(..., true) is local to this transaction: when it ends, the connection sees no clinic.
        await using var batch = new NpgsqlBatch(connection, transaction)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand("select set_config('app.clinic_id', $1, true), set_config('app.user_id', $2, true)")
                {
                    Parameters = { new() { Value = clinicId?.ToString() ?? "" }, new() { Value = userId.ToString() } },
                },
                new NpgsqlBatchCommand(CheckSql)
                {
                    Parameters = { new() { Value = userId } },
                },
            },
        };
        await using var reader = await batch.ExecuteReaderAsync(ct);
        await reader.NextResultAsync(ct);
        if (!await reader.ReadAsync(ct))
        {
            return null;
        }

        return new CheckRow(
            reader.GetString(0),
            reader.IsDBNull(1) ? null : reader.GetString(1),
            reader.GetBoolean(2),
            reader.GetInt32(3),
            reader.IsDBNull(4) ? null : reader.GetGuid(4),
            reader.IsDBNull(5) ? null : reader.GetBoolean(5),
            reader.IsDBNull(6) ? null : reader.GetString(6),
            reader.IsDBNull(7) ? null : reader.GetBoolean(7));
    }

    private static ApiProblem? Refuse(CheckRow row, EndpointMetadataCollection? metadata)
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

        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, http.RequestAborted);
        await SystemConnection.BypassAsync(connection, transaction, http.RequestAborted);
        var scope = http.Features.Get<SystemScope>() ?? new SystemScope(http);
        scope.Attach(connection, transaction);
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

    internal static Task BypassAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken ct) =>
        connection.ExecuteAsync(new CommandDefinition(
            "select set_config('app.bypass_rls', 'on', true)", transaction: transaction, cancellationToken: ct));

    public async ValueTask DisposeAsync()
    {
        await Transaction.DisposeAsync();
        await Connection.DisposeAsync();
    }
}
