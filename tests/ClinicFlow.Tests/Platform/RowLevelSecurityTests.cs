using ClinicFlow.Tests.Support;
using Dapper;
using Npgsql;

namespace ClinicFlow.Tests.Platform;

/// <summary>
/// Defence in depth: on the app's own (non-superuser) connection, a statement that forgets
/// <c>where clinic_id = …</c> still sees only the tenant of the transaction, and none without one.
/// </summary>
public sealed class RowLevelSecurityTests(AppFixture app) : ApiTest(app)
{
    private async Task<List<Guid>> ClinicIdsOfAllUsersAsync(string? clinicId, string? userId = null)
    {
        await using var connection = new NpgsqlConnection(App.AppConnectionString);
        await connection.OpenAsync(Ct);
        await using var tx = await connection.BeginTransactionAsync(Ct);
        await connection.ExecuteAsync(
            "select set_config('app.clinic_id', @clinicId, true), set_config('app.user_id', @userId, true)",
            new { clinicId = clinicId ?? "", userId = userId ?? "" }, tx);
        var ids = (await connection.QueryAsync<Guid?>("select clinic_id from users", transaction: tx)).Select(id => id ?? Guid.Empty).ToList();
        await tx.RollbackAsync(Ct);
        return ids;
    }

    [Fact]
    public async Task A_query_without_where_clinic_id_sees_only_the_tenants_rows()
    {
        var a = await RegisterClinicAsync();
        var b = await RegisterClinicAsync();
        await AddUserAsync(a, "staff");
        await AddUserAsync(b, "staff");

        var seen = await ClinicIdsOfAllUsersAsync(a.ClinicId.ToString());

        Assert.Equal(2, seen.Count);
        Assert.All(seen, id => Assert.Equal(a.ClinicId, id));
    }

    [Fact]
    public async Task No_tenant_set_means_no_rows()
    {
        await RegisterClinicAsync();

        Assert.Empty(await ClinicIdsOfAllUsersAsync(null));

        await using var connection = new NpgsqlConnection(App.AppConnectionString);
        Assert.Equal(0L, await connection.ExecuteScalarAsync<long>("select count(*) from clinics"));
        Assert.Equal(0L, await connection.ExecuteScalarAsync<long>("select count(*) from audit_log"));
    }

    [Fact]
    public async Task A_user_without_clinic_sees_only_themself()
    {
        var solo = await RegisterWithoutClinicAsync();
        await RegisterClinicAsync();

        var seen = await ClinicIdsOfAllUsersAsync(null, solo.UserId.ToString());

        Assert.Single(seen);
    }

    [Fact]
    public async Task Cannot_write_a_row_into_another_clinic()
    {
        var a = await RegisterClinicAsync();
        var b = await RegisterClinicAsync();
        await using var connection = new NpgsqlConnection(App.AppConnectionString);
        await connection.OpenAsync(Ct);
        await using var tx = await connection.BeginTransactionAsync(Ct);
        await connection.ExecuteAsync("select set_config('app.clinic_id', @c, true)", new { c = a.ClinicId.ToString() }, tx);

        var e = await Assert.ThrowsAsync<PostgresException>(() => connection.ExecuteAsync(
            "insert into users (id, clinic_id, email, full_name, role) values (@id, @clinic, @email, 'Mallory', 'admin')",
            new { id = Guid.CreateVersion7(), clinic = b.ClinicId, email = NewEmail("mallory") }, tx));

        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, e.SqlState);
    }

    [Fact]
    public async Task Every_policy_reads_the_tenant_settings_once_per_statement()
    {
        // An inlined app_clinic_id() in a policy is evaluated for every row read; a sub-select is an
        // init plan, evaluated once per execution.
        Assert.True(await App.ScalarAsync<int>("select count(*)::int from pg_policies where schemaname = 'public'") >= 20);
        Assert.Empty(await App.QueryAsync<string>("""
            select tablename from pg_policies
            where schemaname = 'public'
              and (qual ~* '(?<!select )\mapp_(clinic_id|user_id|bypass_rls)\(\)'
                   or coalesce(with_check, '') ~* '(?<!select )\mapp_(clinic_id|user_id|bypass_rls)\(\)')
            """));
    }

    [Fact]
    public async Task A_reused_plan_follows_the_tenant_set_before_each_statement()
    {
        var a = await RegisterClinicAsync();
        var b = await RegisterClinicAsync();
        await AddUserAsync(b, "staff");
        await using var connection = new NpgsqlConnection(App.AppConnectionString);
        await connection.OpenAsync(Ct);
        await using var tx = await connection.BeginTransactionAsync(Ct);
        await connection.ExecuteAsync("set local plan_cache_mode = force_generic_plan", transaction: tx);
        await using var count = new NpgsqlCommand("select count(*)::int from users", connection, tx);
        await count.PrepareAsync(Ct);

        var seen = new List<int>();
        foreach (var clinic in new[] { a.ClinicId, b.ClinicId, Guid.Empty, a.ClinicId, b.ClinicId })
        {
            await connection.ExecuteAsync("select set_config('app.clinic_id', @c, true)",
                new { c = clinic == Guid.Empty ? "" : clinic.ToString() }, tx);
            seen.Add((int)(await count.ExecuteScalarAsync(Ct))!);
        }

        Assert.Equal([1, 2, 0, 1, 2], seen);
    }

    [Fact]
    public async Task The_app_role_is_not_a_superuser_and_cannot_bypass_security()
    {
        await using var connection = new NpgsqlConnection(App.AppConnectionString);
        var role = await connection.QuerySingleAsync<(bool Super, bool Bypass)>(
            "select rolsuper, rolbypassrls from pg_roles where rolname = current_user");

        Assert.False(role.Super);
        Assert.False(role.Bypass);
        Assert.Equal(0, await App.ScalarAsync<int>("""
            select count(*)::int from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = 'public' and c.relkind = 'r'
              and exists (select 1 from information_schema.columns k where k.table_name = c.relname and k.column_name = 'clinic_id')
              and not (c.relrowsecurity and c.relforcerowsecurity)
              and c.relname not in ('password_reset_tokens')
            """));
        // A view over clinic data must read with the caller's rights, or it would bypass the policies.
        Assert.Equal(0, await App.ScalarAsync<int>("""
            select count(*)::int from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = 'public' and c.relkind = 'v'
              and exists (select 1 from information_schema.columns k where k.table_name = c.relname and k.column_name = 'clinic_id')
              and not coalesce('security_invoker=true' = any(c.reloptions), false)
            """));
        Assert.Equal(1, await App.ScalarAsync<int>("select count(*)::int from pg_class where relname = 'appointment_details' and relkind = 'v'"));
    }
}
