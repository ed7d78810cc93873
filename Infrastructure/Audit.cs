using System.Data;
using System.Text.Json;

namespace ClinicFlow.Infrastructure;

/// <summary>
/// The audit writer: one call a slice makes inside its transaction. Entries are append-only and
/// hash-chained per clinic; the chain head row serialises writers of one clinic, and the digest
/// is computed by the database (audit_digest) so /api/audit/verify recomputes it identically.
/// A request's entries are written with its COMMIT, in the same message, so a clinic's writers hold
/// the head only for the server's commit; background jobs append in their own transactions directly.
/// </summary>
public static class Audit
{
    /// <summary>The chain of platform events that belong to no clinic (user sign-ups, demo requests).</summary>
    public static readonly Guid PlatformChain = Guid.Empty;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private const string Sql = """
        with head as (
            insert into audit_heads as h (clinic_id, seq, prev_hash, hash)
            values (@ClinicId, 1, '\x'::bytea,
                    audit_digest('\x'::bytea, @ClinicId, 1, @Id, now(), @ActorId, @ActorType, @Action,
                                 @EntityType, @EntityId, @Ip, @UserAgent, @Changes::jsonb))
            on conflict (clinic_id) do update
               set seq = h.seq + 1,
                   prev_hash = h.hash,
                   hash = audit_digest(h.hash, @ClinicId, h.seq + 1, @Id, now(), @ActorId, @ActorType, @Action,
                                       @EntityType, @EntityId, @Ip, @UserAgent, @Changes::jsonb)
            returning seq, prev_hash, hash
        )
        insert into audit_log (clinic_id, seq, id, occurred_at, actor_id, actor_type, action, entity_type, entity_id,
                               ip, user_agent, changes, prev_hash, hash)
        select @ClinicId, head.seq, @Id, now(), @ActorId, @ActorType, @Action, @EntityType, @EntityId,
               @Ip, @UserAgent, @Changes::jsonb, head.prev_hash, head.hash
        from head
        """;

    private static readonly CommitStatement Queued = new(Sql,
        "ClinicId", "Id", "ActorId", "ActorType", "Action", "EntityType", "EntityId", "Ip", "UserAgent", "Changes");

    /// <summary>
    /// Appends an entry to <paramref name="clinicId"/>'s chain with the request's commit (in the same
    /// message as <c>COMMIT</c>, so the chain head is locked only while the server commits; see
    /// <see cref="DbScope.AtCommit"/>). <paramref name="changes"/> must hold no secrets.
    /// </summary>
    public static Task AuditAsync(this DbScope scope, Guid clinicId, string action, string entityType, object? entityId,
        object? changes, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(scope);
        Queue(scope, clinicId, action, entityType, entityId, changes, liftRls: false);
        return Task.CompletedTask;
    }

    private static void Queue(DbScope scope, Guid clinicId, string action, string entityType, object? entityId, object? changes,
        bool liftRls)
    {
        var http = scope.Http;
        var userAgent = http.Request.Headers.UserAgent.ToString();
        var (sql, names) = Queued.Next(scope);
        var parameters = new Dapper.DynamicParameters();
        parameters.Add(names[0], clinicId, DbType.Guid);
        parameters.Add(names[1], Guid.CreateVersion7(), DbType.Guid);
        parameters.Add(names[2], scope.ActorId, DbType.Guid);
        parameters.Add(names[3], scope.ActorType, DbType.String);
        parameters.Add(names[4], action, DbType.String);
        parameters.Add(names[5], entityType, DbType.String);
        parameters.Add(names[6], entityId?.ToString(), DbType.String);
        parameters.Add(names[7], http.ClientIp(), DbType.String);
        parameters.Add(names[8], userAgent.Length > 500 ? userAgent[..500] : userAgent, DbType.String);
        parameters.Add(names[9], JsonSerializer.Serialize(changes ?? new { }, Json), DbType.String);
        scope.AtCommit(liftRls ? BypassOnSql + ";\n" + sql + ";\n" + BypassOffSql : sql, parameters);
    }

    /// <summary>Appends an entry for a background job acting on its own (actor type <c>system</c>, no actor id).</summary>
    public static Task AppendSystemAsync(Npgsql.NpgsqlConnection connection, Npgsql.NpgsqlTransaction transaction, Guid clinicId,
        string action, string entityType, object? entityId, object? changes, CancellationToken ct) =>
        connection.AuditAsync(transaction, clinicId, "system", null, action, entityType, entityId, changes, ct);

    /// <summary>
    /// Appends an entry from outside a request (a background worker): no IP or user agent, the actor
    /// named by the caller. Runs in the caller's transaction, like every audit entry.
    /// </summary>
    public static Task AuditAsync(this Npgsql.NpgsqlConnection connection, Npgsql.NpgsqlTransaction transaction, Guid clinicId,
        string actorType, Guid? actorId, string action, string entityType, object? entityId, object? changes, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return Dapper.SqlMapper.ExecuteAsync(connection, new Dapper.CommandDefinition(Sql, new
        {
            ClinicId = clinicId,
            Id = Guid.CreateVersion7(),
            ActorId = actorId,
            ActorType = actorType,
            Action = action,
            EntityType = entityType,
            EntityId = entityId?.ToString(),
            Ip = (string?)null,
            UserAgent = (string?)null,
            Changes = JsonSerializer.Serialize(changes ?? new { }, Json),
        }, transaction, cancellationToken: ct));
    }

    private const string BypassOnSql = "select set_config('app.bypass_rls', 'on', true)";

    private const string BypassOffSql = "select set_config('app.bypass_rls', '', true)";

    /// <summary>Appends an entry to the caller's clinic chain (the platform chain for a user without a clinic), with the commit.</summary>
    public static Task AuditAsync(this Tenant tenant, string action, string entityType, object? entityId, object? changes, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(tenant);

        // Row-level security hides the platform chain from a tenant connection without a clinic:
        // the append lifts it for itself only. If the append fails, the request's transaction rolls back.
        Queue(tenant, tenant.HasClinic ? tenant.ClinicId : PlatformChain, action, entityType, entityId, changes, liftRls: !tenant.HasClinic);
        return Task.CompletedTask;
    }
}
