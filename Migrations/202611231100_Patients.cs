using FluentMigrator;

namespace ClinicFlow.Migrations;

/// <summary>
/// Patients: clinic-owned with composite keys and forced row-level security. Search runs over one
/// accent- and case-folded text column with a trigram index that starts with clinic_id, so one
/// clinic's search never scans another's rows. Erasure keeps a tombstone row without personal
/// data, so appointments and retained records that point at it stay valid.
/// </summary>
[Migration(2026_11_23_11_00, "Patients: records, search, blocking, lookup hash, erasure tombstones")]
public sealed class Patients : ForwardOnlyMigration
{
    public override void Up() => Execute.Sql("""
        create extension if not exists btree_gin;

        -- unaccent() is only stable (its dictionary could change); pinning the dictionary makes it
        -- safe for a generated column and an index (concat_ws is only stable too: || and coalesce).
        create function immutable_unaccent(text) returns text language sql immutable parallel safe strict
            as $$ select public.unaccent('public.unaccent'::regdictionary, $1) $$;

        create table patients (
            id uuid not null,
            clinic_id uuid not null references clinics (id),
            full_name text not null,
            phone text,
            email citext,
            birth_date date,
            gender text check (gender in ('female', 'male', 'other', 'unknown')),
            document_id text,
            notes text,
            blocked boolean not null default false,
            blocked_reason text,
            blocked_at timestamptz,
            lookup_hash text,
            encrypted_data text,
            erased_at timestamptz,
            -- until when erased records under a retention duty stay locked (§ 630f BGB); then purged
            retain_until timestamptz,
            created_at timestamptz not null default now(),
            updated_at timestamptz not null default now(),
            search_text text generated always as (
                lower(immutable_unaccent(full_name || ' ' || coalesce(phone, '') || ' '
                      || coalesce(email::text, '') || ' ' || coalesce(document_id, '')))
            ) stored,
            constraint pk_patients primary key (id),
            constraint ux_patients_clinic_id unique (clinic_id, id)
        );
        create unique index ux_patients_document_id on patients (clinic_id, document_id)
            where document_id is not null;
        create unique index ux_patients_lookup_hash on patients (clinic_id, lookup_hash)
            where lookup_hash is not null;
        create index ix_patients_search on patients using gin (clinic_id, search_text gin_trgm_ops)
            where erased_at is null;
        create index ix_patients_phone on patients (clinic_id, phone) where phone is not null;
        create index ix_patients_clinic_name on patients (clinic_id, lower(full_name), id) where erased_at is null;
        alter table patients enable row level security;
        alter table patients force row level security;
        create policy tenant_isolation on patients
            using (clinic_id = app_clinic_id() or app_bypass_rls())
            with check (clinic_id = app_clinic_id() or app_bypass_rls());
        """);
}
