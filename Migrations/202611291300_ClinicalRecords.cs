using FluentMigrator;

namespace ClinicFlow.Migrations;

/// <summary>
/// Clinical records: encrypted photos stored in fixed-size chunks (streamed in and out, never whole
/// in memory), treatment plans and templates with their items, payment plans with installments and
/// payments. Every table is clinic-owned with composite keys and forced row-level security.
/// </summary>
[Migration(2026_11_29_13_00, "Clinical records: photos, treatment plans and templates, payment plans")]
public sealed class ClinicalRecords : ForwardOnlyMigration
{
    public override void Up() => Execute.Sql("""
        create table photos (
            id uuid not null,
            clinic_id uuid not null references clinics (id),
            patient_id uuid not null,
            -- the JWE that wraps the content key; the server never holds the key itself
            key_envelope text not null,
            mime_type text not null,
            taken_at timestamptz,
            category text not null check (category in ('before', 'after', 'progress', 'other')),
            body_region text,
            consent_status text not null default 'pending' check (consent_status in ('pending', 'granted', 'revoked')),
            consent_form_id uuid,
            consent_changed_at timestamptz,
            size_bytes bigint not null check (size_bytes between 1 and 20971520),
            chunk_bytes int not null check (chunk_bytes > 0),
            sha256 bytea not null,
            created_by uuid,
            created_at timestamptz not null default now(),
            constraint pk_photos primary key (id),
            constraint ux_photos_clinic_id unique (clinic_id, id),
            constraint fk_photos_patient foreign key (clinic_id, patient_id) references patients (clinic_id, id)
        );
        create index ix_photos_patient on photos (clinic_id, patient_id, id);

        -- The ciphertext in chunks written as the upload streams in. The reference is checked at commit,
        -- so chunks can be written before the multipart fields that describe the photo have arrived.
        create table photo_chunks (
            clinic_id uuid not null,
            photo_id uuid not null,
            seq int not null check (seq >= 0),
            data bytea not null,
            constraint pk_photo_chunks primary key (clinic_id, photo_id, seq),
            constraint fk_photo_chunks_photo foreign key (clinic_id, photo_id) references photos (clinic_id, id)
                on delete cascade deferrable initially deferred
        );
        -- Ciphertext does not compress: store it out of line without trying.
        alter table photo_chunks alter column data set storage external;

        create table treatment_templates (
            id uuid not null,
            clinic_id uuid not null references clinics (id),
            name text not null,
            category text,
            created_at timestamptz not null default now(),
            updated_at timestamptz not null default now(),
            constraint pk_treatment_templates primary key (id),
            constraint ux_treatment_templates_clinic_id unique (clinic_id, id)
        );

        create table treatment_plans (
            id uuid not null,
            clinic_id uuid not null references clinics (id),
            patient_id uuid not null,
            template_id uuid,
            title text not null,
            status text not null default 'draft'
                check (status in ('draft', 'proposed', 'accepted', 'in_progress', 'completed', 'cancelled')),
            notes text,
            accepted_at timestamptz,
            completed_at timestamptz,
            cancelled_at timestamptz,
            status_changed_at timestamptz not null default now(),
            -- treatment documentation: kept 10 years after its last change (§ 630f BGB), also after erasure
            retain_until timestamptz not null,
            created_by uuid,
            created_at timestamptz not null default now(),
            updated_at timestamptz not null default now(),
            constraint pk_treatment_plans primary key (id),
            constraint ux_treatment_plans_clinic_id unique (clinic_id, id),
            constraint fk_treatment_plans_patient foreign key (clinic_id, patient_id) references patients (clinic_id, id),
            constraint fk_treatment_plans_template foreign key (clinic_id, template_id)
                references treatment_templates (clinic_id, id) on delete set null (template_id)
        );
        create index ix_treatment_plans_patient on treatment_plans (clinic_id, patient_id, id);
        create index ix_treatment_plans_status on treatment_plans (clinic_id, status, id);
        create index ix_treatment_plans_accepted on treatment_plans (clinic_id, accepted_at) where accepted_at is not null;

        -- FDI tooth numbers: permanent quadrants 1-4 (teeth 1-8), deciduous quadrants 5-8 (teeth 1-5).
        create function is_fdi_tooth(t int) returns boolean language sql immutable parallel safe
            as $$ select t is null or (t / 10 between 1 and 4 and t % 10 between 1 and 8)
                                   or (t / 10 between 5 and 8 and t % 10 between 1 and 5) $$;

        create table treatment_plan_items (
            clinic_id uuid not null,
            plan_id uuid not null,
            position int not null,
            description text not null,
            code text,
            tooth smallint check (is_fdi_tooth(tooth)),
            quantity int not null check (quantity between 1 and 1000),
            unit_price_cents bigint not null check (unit_price_cents between 0 and 100000000000),
            constraint pk_treatment_plan_items primary key (clinic_id, plan_id, position),
            constraint fk_treatment_plan_items_plan foreign key (clinic_id, plan_id)
                references treatment_plans (clinic_id, id) on delete cascade
        );

        create table treatment_template_items (
            clinic_id uuid not null,
            template_id uuid not null,
            position int not null,
            description text not null,
            code text,
            tooth smallint check (is_fdi_tooth(tooth)),
            quantity int not null check (quantity between 1 and 1000),
            unit_price_cents bigint not null check (unit_price_cents between 0 and 100000000000),
            constraint pk_treatment_template_items primary key (clinic_id, template_id, position),
            constraint fk_treatment_template_items_template foreign key (clinic_id, template_id)
                references treatment_templates (clinic_id, id) on delete cascade
        );

        create table payment_plans (
            id uuid not null,
            clinic_id uuid not null references clinics (id),
            treatment_plan_id uuid not null,
            total_cents bigint not null check (total_cents > 0),
            installments int not null check (installments between 1 and 120),
            interval_days int not null check (interval_days between 1 and 366),
            first_due_date date not null,
            paid_cents bigint not null default 0,
            created_by uuid,
            created_at timestamptz not null default now(),
            constraint pk_payment_plans primary key (id),
            constraint ux_payment_plans_clinic_id unique (clinic_id, id),
            -- one payment plan per treatment plan
            constraint ux_payment_plans_treatment_plan unique (clinic_id, treatment_plan_id),
            constraint fk_payment_plans_treatment_plan foreign key (clinic_id, treatment_plan_id)
                references treatment_plans (clinic_id, id),
            -- never more received than owed, whatever runs concurrently
            constraint ck_payment_plans_paid check (paid_cents between 0 and total_cents)
        );

        create table payment_installments (
            clinic_id uuid not null,
            payment_plan_id uuid not null,
            number int not null check (number >= 1),
            due_date date not null,
            amount_cents bigint not null check (amount_cents >= 0),
            paid_cents bigint not null default 0,
            constraint pk_payment_installments primary key (clinic_id, payment_plan_id, number),
            constraint fk_payment_installments_plan foreign key (clinic_id, payment_plan_id)
                references payment_plans (clinic_id, id) on delete cascade,
            constraint ck_payment_installments_paid check (paid_cents between 0 and amount_cents)
        );
        create index ix_payment_installments_due on payment_installments (clinic_id, due_date);

        create table payments (
            id uuid not null,
            clinic_id uuid not null references clinics (id),
            payment_plan_id uuid not null,
            amount_cents bigint not null check (amount_cents > 0),
            paid_at timestamptz not null,
            method text not null check (method in ('cash', 'card', 'transfer', 'other')),
            created_by uuid,
            created_at timestamptz not null default now(),
            constraint pk_payments primary key (id),
            constraint ux_payments_clinic_id unique (clinic_id, id),
            constraint fk_payments_plan foreign key (clinic_id, payment_plan_id) references payment_plans (clinic_id, id)
        );
        create index ix_payments_plan on payments (clinic_id, payment_plan_id, id);
        create index ix_payments_paid_at on payments (clinic_id, paid_at);

        -- A plan with its total (computed here, never stored) and its payment plan, if any.
        create view treatment_plan_summaries with (security_invoker = true) as
        select p.id, p.clinic_id, p.patient_id, p.template_id, p.title, p.status, p.notes,
               coalesce((select sum(i.quantity * i.unit_price_cents) from treatment_plan_items i
                         where i.clinic_id = p.clinic_id and i.plan_id = p.id), 0)::bigint as total_cents,
               pp.id as payment_plan_id, p.accepted_at, p.completed_at, p.cancelled_at, p.retain_until,
               p.created_at, p.updated_at
        from treatment_plans p
        left join payment_plans pp on pp.clinic_id = p.clinic_id and pp.treatment_plan_id = p.id;

        -- New patients per day for the analytics dashboard.
        create index ix_patients_created on patients (clinic_id, created_at);

        select enable_tenant_isolation('photos');
        select enable_tenant_isolation('photo_chunks');
        select enable_tenant_isolation('treatment_templates');
        select enable_tenant_isolation('treatment_plans');
        select enable_tenant_isolation('treatment_plan_items');
        select enable_tenant_isolation('treatment_template_items');
        select enable_tenant_isolation('payment_plans');
        select enable_tenant_isolation('payment_installments');
        select enable_tenant_isolation('payments');
        """);
}
