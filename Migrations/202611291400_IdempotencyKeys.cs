using FluentMigrator;

namespace ClinicFlow.Migrations;

/// <summary>
/// Kept answers of requests sent with an Idempotency-Key, one per caller, route and key, for 24 hours.
/// Clinic callers see only their clinic's rows (row-level security); a signed-in user without a clinic
/// keeps its keys under the platform id and sees only its own; public and operator routes go through
/// the system connection.
/// </summary>
[Migration(2026_11_29_14_00, "idempotency_keys: kept answers of requests sent with an Idempotency-Key")]
public sealed class IdempotencyKeys : ForwardOnlyMigration
{
    public override void Up() => Execute.Sql("""
        create table idempotency_keys (
            clinic_id    uuid        not null,
            caller       text        not null,
            route        text        not null,
            key          text        not null check (length(key) between 1 and 255),
            fingerprint  bytea       not null,
            status_code  int         not null check (status_code between 100 and 399),
            location     text,
            content_type text,
            body         bytea       not null,
            created_at   timestamptz not null default now(),
            expires_at   timestamptz not null,
            constraint pk_idempotency_keys primary key (clinic_id, caller, route, key)
        );
        create index ix_idempotency_keys_expires_at on idempotency_keys (expires_at);

        select enable_tenant_isolation('idempotency_keys');

        create policy own_keys_without_clinic on idempotency_keys
            using (clinic_id = '00000000-0000-0000-0000-000000000000' and app_clinic_id() is null
                   and caller = 'user:' || app_user_id()::text)
            with check (clinic_id = '00000000-0000-0000-0000-000000000000' and app_clinic_id() is null
                        and caller = 'user:' || app_user_id()::text);
        """);
}
