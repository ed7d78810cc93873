using FluentMigrator;

namespace ClinicFlow.Migrations;

/// <summary>
/// Team invites (single-use links stored as SHA-256 only) and Stripe billing: the events handled so
/// far (each event id once) and, on the clinic, the time of the newest Stripe event applied, so an
/// event delivered late never moves a subscription backwards.
/// </summary>
[Migration(2026_11_29_11_00, "Team invites; Stripe events handled once; clinic's last applied Stripe event time")]
public sealed class TeamAndBilling : ForwardOnlyMigration
{
    public override void Up() => Execute.Sql("""
        create table team_invites (
            id uuid not null,
            clinic_id uuid not null references clinics (id),
            email citext not null,
            role text not null check (role in ('admin', 'doctor', 'staff')),
            token_hash bytea not null,
            expires_at timestamptz not null,
            invited_by uuid,
            created_at timestamptz not null default now(),
            accepted_at timestamptz,
            accepted_by uuid,
            revoked_at timestamptz,
            constraint pk_team_invites primary key (id),
            constraint ux_team_invites_clinic_id unique (clinic_id, id),
            constraint ux_team_invites_token unique (token_hash),
            constraint ck_team_invites_one_end check (accepted_at is null or revoked_at is null)
        );
        -- One open invite per address and clinic: inviting again replaces it (the old link is revoked).
        create unique index ux_team_invites_open on team_invites (clinic_id, email)
            where accepted_at is null and revoked_at is null;
        select enable_tenant_isolation('team_invites');

        -- Stripe events handled, by Stripe's event id: the insert that wins is the one that acts.
        create table stripe_events (
            id text not null,
            type text not null,
            created_at timestamptz not null,
            clinic_id uuid references clinics (id),
            outcome text not null check (outcome in ('applied', 'stale', 'ignored')),
            received_at timestamptz not null default now(),
            constraint pk_stripe_events primary key (id)
        );
        create index ix_stripe_events_clinic on stripe_events (clinic_id, received_at desc) where clinic_id is not null;
        select enable_tenant_isolation('stripe_events');

        alter table clinics add column stripe_event_at timestamptz;
        create unique index ux_clinics_stripe_customer on clinics (stripe_customer_id) where stripe_customer_id is not null;
        """);
}
