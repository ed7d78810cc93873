using FluentMigrator;

namespace ClinicFlow.Migrations;

/// <summary>
/// Clinics, users, audit chain, outbox and the operator's tables. Clinic-owned tables carry
/// clinic_id with unique (clinic_id, id) and forced row-level security that fails closed.
/// </summary>
[Migration(2026_11_23_09_00, "Platform core: tenancy, identity, audit, outbox, operator tables")]
public sealed class PlatformCore : ForwardOnlyMigration
{
    public override void Up() => Execute.Sql("""
        create extension if not exists citext;
        create extension if not exists pg_trgm;
        create extension if not exists btree_gist;
        create extension if not exists unaccent;

        -- The tenant of the current transaction; unset or reset matches no row (fail closed).
        create function app_clinic_id() returns uuid language sql stable
            as $$ select nullif(current_setting('app.clinic_id', true), '')::uuid $$;
        create function app_user_id() returns uuid language sql stable
            as $$ select nullif(current_setting('app.user_id', true), '')::uuid $$;
        create function app_bypass_rls() returns boolean language sql stable
            as $$ select coalesce(current_setting('app.bypass_rls', true), '') = 'on' $$;

        create table clinics (
            id uuid primary key,
            name text not null,
            timezone text not null,
            country char(2) not null,
            currency char(3) not null,
            locale text not null default 'en' check (locale in ('en', 'es', 'de')),
            phone text,
            address text,
            plan text not null default 'pro' check (plan in ('basic', 'pro', 'enterprise')),
            subscription_status text not null default 'trialing'
                check (subscription_status in ('trialing', 'active', 'past_due', 'canceled', 'expired')),
            subscription_expires_at timestamptz,
            max_doctors_override int check (max_doctors_override >= 0),
            max_users_override int check (max_users_override >= 0),
            active boolean not null default true,
            reminder_hours int[] not null default '{24,2}',
            ics_show_patient_names boolean not null default false,
            stripe_customer_id text,
            stripe_subscription_id text,
            created_at timestamptz not null default now(),
            updated_at timestamptz not null default now()
        );
        create index ix_clinics_name_trgm on clinics using gin (lower(name) gin_trgm_ops);
        alter table clinics enable row level security;
        alter table clinics force row level security;
        create policy tenant_isolation on clinics
            using (id = app_clinic_id() or app_bypass_rls())
            with check (id = app_clinic_id() or app_bypass_rls());

        create table users (
            id uuid primary key,
            clinic_id uuid references clinics (id),
            email citext not null,
            password_hash text,
            full_name text not null,
            role text check (role in ('admin', 'doctor', 'staff')),
            active boolean not null default true,
            phone text,
            locale text not null default 'en' check (locale in ('en', 'es', 'de')),
            token_version int not null default 1,
            pin_hash text,
            external_id text,
            provider text,
            created_at timestamptz not null default now(),
            updated_at timestamptz not null default now(),
            constraint ux_users_email unique (email),
            constraint ux_users_clinic_id unique (clinic_id, id),
            constraint ck_users_role_with_clinic check ((clinic_id is null) = (role is null))
        );
        create unique index ux_users_provider_external_id on users (provider, external_id) where external_id is not null;
        alter table users enable row level security;
        alter table users force row level security;
        -- A user row is visible to its clinic and to the user themself (who may have no clinic yet).
        create policy tenant_isolation on users
            using (clinic_id = app_clinic_id() or id = app_user_id() or app_bypass_rls())
            with check (clinic_id = app_clinic_id() or id = app_user_id() or app_bypass_rls());

        create table password_reset_tokens (
            token_hash bytea primary key,
            user_id uuid not null references users (id) on delete cascade,
            expires_at timestamptz not null,
            used_at timestamptz,
            created_at timestamptz not null default now()
        );
        create index ix_password_reset_tokens_user on password_reset_tokens (user_id);

        create table invite_codes (
            code text primary key,
            max_uses int not null check (max_uses > 0),
            uses int not null default 0,
            expires_at timestamptz,
            plan text not null default 'pro' check (plan in ('basic', 'pro', 'enterprise')),
            revoked_at timestamptz,
            created_at timestamptz not null default now(),
            constraint ck_invite_codes_uses check (uses <= max_uses)
        );

        create table demo_requests (
            id uuid primary key,
            name text not null,
            email citext not null,
            clinic_name text not null,
            phone text,
            country text,
            message text,
            status text not null default 'new' check (status in ('new', 'contacted', 'converted', 'rejected')),
            ip text,
            created_at timestamptz not null default now(),
            updated_at timestamptz not null default now()
        );
        create index ix_demo_requests_status on demo_requests (status, id desc);

        -- The audit chain: append-only, hash-chained per clinic (the nil uuid is the platform's chain).
        create function audit_digest(p_prev bytea, p_clinic uuid, p_seq bigint, p_id uuid, p_at timestamptz,
                                     p_actor uuid, p_actor_type text, p_action text, p_entity_type text,
                                     p_entity_id text, p_ip text, p_ua text, p_changes jsonb)
            returns bytea language sql stable
            as $$
                select sha256(p_prev || convert_to(concat_ws(chr(31),
                    p_clinic::text, p_seq::text, p_id::text,
                    to_char(p_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                    coalesce(p_actor::text, ''), p_actor_type, p_action, p_entity_type,
                    coalesce(p_entity_id, ''), coalesce(p_ip, ''), coalesce(p_ua, ''), p_changes::text), 'UTF8'))
            $$;

        create table audit_heads (
            clinic_id uuid primary key,
            seq bigint not null,
            prev_hash bytea not null,
            hash bytea not null
        );
        alter table audit_heads enable row level security;
        alter table audit_heads force row level security;
        create policy tenant_isolation on audit_heads
            using (clinic_id = app_clinic_id() or app_bypass_rls())
            with check (clinic_id = app_clinic_id() or app_bypass_rls());

        create table audit_log (
            clinic_id uuid not null,
            seq bigint not null,
            id uuid not null,
            occurred_at timestamptz not null,
            actor_id uuid,
            actor_type text not null check (actor_type in ('user', 'superadmin', 'public', 'system')),
            action text not null,
            entity_type text not null,
            entity_id text,
            ip text,
            user_agent text,
            changes jsonb not null,
            prev_hash bytea not null,
            hash bytea not null,
            constraint pk_audit_log primary key (clinic_id, seq),
            constraint ux_audit_log_clinic_id unique (clinic_id, id)
        );
        create index ix_audit_log_action on audit_log (clinic_id, action, seq desc);
        create index ix_audit_log_entity on audit_log (clinic_id, entity_type, entity_id, seq desc);
        create index ix_audit_log_actor on audit_log (clinic_id, actor_id, seq desc);
        create index ix_audit_log_time on audit_log (clinic_id, occurred_at desc);
        alter table audit_log enable row level security;
        alter table audit_log force row level security;
        create policy tenant_isolation on audit_log
            using (clinic_id = app_clinic_id() or app_bypass_rls())
            with check (clinic_id = app_clinic_id() or app_bypass_rls());
        create function audit_log_append_only() returns trigger language plpgsql
            as $$ begin raise exception 'audit_log is append-only'; end $$;
        create trigger tr_audit_log_append_only before update or delete on audit_log
            for each row execute function audit_log_append_only();

        create table outbox_messages (
            id uuid primary key,
            clinic_id uuid references clinics (id),
            channel text not null check (channel in ('email', 'whatsapp')),
            recipient text not null,
            payload jsonb not null,
            status text not null default 'pending' check (status in ('pending', 'sending', 'sent', 'failed', 'cancelled')),
            attempts int not null default 0,
            next_attempt_at timestamptz not null default now(),
            locked_until timestamptz,
            last_error text,
            provider_message_id text,
            created_at timestamptz not null default now(),
            sent_at timestamptz
        );
        create index ix_outbox_messages_due on outbox_messages (next_attempt_at) where status in ('pending', 'sending');
        create index ix_outbox_messages_clinic on outbox_messages (clinic_id, id) where clinic_id is not null;
        alter table outbox_messages enable row level security;
        alter table outbox_messages force row level security;
        create policy tenant_isolation on outbox_messages
            using (clinic_id = app_clinic_id() or app_bypass_rls())
            with check (clinic_id = app_clinic_id() or app_bypass_rls());
        """);
}
