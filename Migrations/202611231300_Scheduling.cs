using FluentMigrator;

namespace ClinicFlow.Migrations;

/// <summary>
/// Scheduling: doctors, their weekly hours and time off, appointments and the clinic's attendance
/// (QR check-in) tokens. Every table is clinic-owned with composite keys and forced row-level
/// security. Double booking is impossible by construction: an exclusion constraint over the doctor's
/// non-cancelled appointments, checked by the database even for concurrent requests.
/// </summary>
[Migration(2026_11_23_13_00, "Scheduling: doctors, weekly hours, time off, appointments, attendance tokens")]
public sealed class Scheduling : ForwardOnlyMigration
{
    public override void Up() => Execute.Sql("""
        create table doctors (
            id uuid not null,
            clinic_id uuid not null references clinics (id),
            full_name text not null,
            specialty text,
            email citext,
            phone text,
            user_id uuid,
            active boolean not null default true,
            color text check (color ~ '^#[0-9a-f]{6}$'),
            slot_minutes int not null default 30 check (slot_minutes between 5 and 240),
            -- the ICS feed secret: found by its SHA-256, shown again from its sealed (encrypted) copy
            ics_token_hash bytea,
            ics_token_sealed text,
            ics_token_created_at timestamptz,
            created_at timestamptz not null default now(),
            updated_at timestamptz not null default now(),
            constraint pk_doctors primary key (id),
            constraint ux_doctors_clinic_id unique (clinic_id, id),
            constraint fk_doctors_user foreign key (clinic_id, user_id) references users (clinic_id, id),
            constraint ck_doctors_ics_token check ((ics_token_hash is null) = (ics_token_sealed is null))
        );
        create unique index ux_doctors_user on doctors (clinic_id, user_id) where user_id is not null;
        create unique index ux_doctors_ics_token on doctors (ics_token_hash) where ics_token_hash is not null;
        create index ix_doctors_clinic_name on doctors (clinic_id, lower(full_name), id);

        -- Times of day local to the clinic's zone; converted per date, so DST changes are honoured.
        create table doctor_weekly_hours (
            clinic_id uuid not null,
            doctor_id uuid not null,
            weekday smallint not null check (weekday between 1 and 7),
            starts_at time not null,
            ends_at time not null,
            constraint pk_doctor_weekly_hours primary key (clinic_id, doctor_id, weekday, starts_at),
            constraint fk_doctor_weekly_hours_doctor foreign key (clinic_id, doctor_id)
                references doctors (clinic_id, id) on delete cascade,
            constraint ck_doctor_weekly_hours_range check (starts_at < ends_at)
        );

        create table doctor_time_off (
            id uuid not null,
            clinic_id uuid not null,
            doctor_id uuid not null,
            starts_at timestamptz not null,
            ends_at timestamptz not null,
            reason text,
            created_at timestamptz not null default now(),
            constraint pk_doctor_time_off primary key (id),
            constraint ux_doctor_time_off_clinic_id unique (clinic_id, id),
            constraint fk_doctor_time_off_doctor foreign key (clinic_id, doctor_id) references doctors (clinic_id, id),
            constraint ck_doctor_time_off_range check (starts_at < ends_at)
        );
        create index ix_doctor_time_off_doctor on doctor_time_off (clinic_id, doctor_id, ends_at);

        create table appointments (
            id uuid not null,
            clinic_id uuid not null,
            doctor_id uuid not null,
            patient_id uuid not null,
            starts_at timestamptz not null,
            ends_at timestamptz not null,
            status text not null default 'scheduled'
                check (status in ('scheduled', 'confirmed', 'checked_in', 'completed', 'cancelled', 'no_show')),
            reason text,
            notes text,
            outside_schedule boolean not null default false,
            -- RFC 5545 SEQUENCE: grows with every change a calendar should pick up
            sequence int not null default 0,
            created_by uuid,
            created_at timestamptz not null default now(),
            updated_at timestamptz not null default now(),
            status_changed_at timestamptz not null default now(),
            constraint pk_appointments primary key (id),
            constraint ux_appointments_clinic_id unique (clinic_id, id),
            constraint fk_appointments_doctor foreign key (clinic_id, doctor_id) references doctors (clinic_id, id),
            constraint fk_appointments_patient foreign key (clinic_id, patient_id) references patients (clinic_id, id),
            constraint ck_appointments_range check (starts_at < ends_at),
            constraint ex_appointments_no_overlap exclude using gist (
                clinic_id with =, doctor_id with =, tstzrange(starts_at, ends_at) with &&
            ) where (status not in ('cancelled', 'no_show'))
        );
        -- A clinic's day (the reception's list) and a doctor's or patient's range, each one index range scan.
        create index ix_appointments_clinic_day on appointments (clinic_id, starts_at, id);
        create index ix_appointments_doctor on appointments (clinic_id, doctor_id, starts_at, id);
        create index ix_appointments_patient on appointments (clinic_id, patient_id, starts_at, id);

        -- The clinic's QR check-in secret; one active at a time, rotation revokes the old one.
        create table attendance_tokens (
            id uuid not null,
            clinic_id uuid not null references clinics (id),
            token_hash bytea not null,
            token_sealed text not null,
            created_at timestamptz not null default now(),
            revoked_at timestamptz,
            constraint pk_attendance_tokens primary key (id),
            constraint ux_attendance_tokens_clinic_id unique (clinic_id, id),
            constraint ux_attendance_tokens_hash unique (token_hash)
        );
        create unique index ux_attendance_tokens_active on attendance_tokens (clinic_id) where revoked_at is null;

        -- The tenant policy every clinic-owned table carries, in one place for this and later migrations.
        create function enable_tenant_isolation(t regclass) returns void language plpgsql as $$
        begin
            execute format('alter table %s enable row level security', t);
            execute format('alter table %s force row level security', t);
            execute format('create policy tenant_isolation on %s
                                using (clinic_id = app_clinic_id() or app_bypass_rls())
                                with check (clinic_id = app_clinic_id() or app_bypass_rls())', t);
        end $$;

        select enable_tenant_isolation('doctors');
        select enable_tenant_isolation('doctor_weekly_hours');
        select enable_tenant_isolation('doctor_time_off');
        select enable_tenant_isolation('appointments');
        select enable_tenant_isolation('attendance_tokens');
        """);
}
