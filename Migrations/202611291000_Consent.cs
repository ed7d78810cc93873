using FluentMigrator;

namespace ClinicFlow.Migrations;

/// <summary>
/// The consent product: practice settings, the practice's public encryption keys (every key ever
/// published stays, so forms sent under an older key can still be submitted), the logo, and
/// consent forms whose answers arrive as JWE ciphertext the server never opens. Submitted forms
/// carry retain_until (§ 630f BGB); the retention job purges them after it.
/// </summary>
[Migration(2026_11_29_10_00, "Consent: practice settings, public keys, logo, consent forms with encrypted answers")]
public sealed class Consent : ForwardOnlyMigration
{
    public override void Up() => Execute.Sql("""
        create table practice_settings (
            clinic_id uuid not null references clinics (id),
            consent_expiry_days int not null default 7 check (consent_expiry_days between 1 and 90),
            brand_color text check (brand_color ~ '^#[0-9a-f]{6}$'),
            retention_days int not null default 3653 check (retention_days between 3653 and 36525),
            gdt_sender_id text check (gdt_sender_id ~ '^[A-Za-z0-9]{1,8}$'),
            gdt_receiver_id text check (gdt_receiver_id ~ '^[A-Za-z0-9]{1,8}$'),
            updated_at timestamptz not null default now(),
            constraint pk_practice_settings primary key (clinic_id)
        );
        select enable_tenant_isolation('practice_settings');

        -- Public halves only (a JWK with private parameters is refused before it gets here).
        create table practice_keys (
            clinic_id uuid not null references clinics (id),
            kid text not null check (length(kid) between 1 and 100),
            alg text not null check (alg in ('ECDH-ES+A256KW', 'RSA-OAEP-256')),
            jwk jsonb not null,
            created_at timestamptz not null default now(),
            retired_at timestamptz,
            constraint pk_practice_keys primary key (clinic_id, kid)
        );
        create unique index ux_practice_keys_current on practice_keys (clinic_id) where retired_at is null;
        select enable_tenant_isolation('practice_keys');

        create table practice_logos (
            clinic_id uuid not null references clinics (id),
            content_type text not null check (content_type in ('image/png', 'image/jpeg', 'image/webp')),
            content bytea not null check (octet_length(content) between 1 and 1048576),
            etag text not null,
            updated_at timestamptz not null default now(),
            constraint pk_practice_logos primary key (clinic_id)
        );
        select enable_tenant_isolation('practice_logos');

        create table consent_forms (
            id uuid not null,
            clinic_id uuid not null references clinics (id),
            patient_id uuid not null,
            type text not null,
            title text not null,
            body text not null,
            template_id text,
            kid text not null,
            -- the link's bearer secret: found by its SHA-256, shown again from its sealed copy;
            -- both go when an erasure locks the record
            token_hash bytea,
            token_sealed text,
            created_by uuid,
            created_at timestamptz not null default now(),
            expires_at timestamptz not null,
            opened_at timestamptz,
            submitted_at timestamptz,
            signed_at timestamptz,
            encrypted_payload text,
            submitter_ip text,
            submitter_user_agent text,
            revoked_at timestamptz,
            -- set by an erasure of the patient: the record is kept locked and minimised until retain_until
            locked_at timestamptz,
            retain_until timestamptz,
            constraint pk_consent_forms primary key (id),
            constraint ux_consent_forms_clinic_id unique (clinic_id, id),
            constraint fk_consent_forms_patient foreign key (clinic_id, patient_id) references patients (clinic_id, id),
            constraint fk_consent_forms_key foreign key (clinic_id, kid) references practice_keys (clinic_id, kid),
            constraint ck_consent_forms_token check ((token_hash is null) = (token_sealed is null)),
            constraint ck_consent_forms_submitted check ((submitted_at is null) = (encrypted_payload is null)),
            constraint ck_consent_forms_retained check (submitted_at is null or retain_until is not null)
        );
        create unique index ux_consent_forms_token on consent_forms (token_hash) where token_hash is not null;
        create index ix_consent_forms_clinic on consent_forms (clinic_id, id desc) where locked_at is null;
        create index ix_consent_forms_patient on consent_forms (clinic_id, patient_id, id desc);
        create index ix_consent_forms_created on consent_forms (clinic_id, created_at) where locked_at is null;
        create index ix_consent_forms_retain on consent_forms (retain_until) where retain_until is not null;
        select enable_tenant_isolation('consent_forms');

        create index ix_patients_retain on patients (retain_until) where erased_at is not null and retain_until is not null;
        """);
}
