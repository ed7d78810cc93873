using FluentMigrator;

namespace ClinicFlow.Migrations;

/// <summary>
/// WhatsApp: each clinic's Cloud API number (its access token sealed), inbound messages kept once
/// by Meta's message id until the background worker has handled them, the chatbot's FAQ with
/// accent-folding text search configurations, recall campaigns, and the outbox columns that tie a
/// message to its patient, appointment or campaign (so cancelling, blocking and erasing can drop it).
/// </summary>
[Migration(2026_11_29_12_00, "WhatsApp: clinic config, inbound messages, FAQ, recall campaigns, outbox patient and appointment")]
public sealed class WhatsApp : ForwardOnlyMigration
{
    public override void Up() => Execute.Sql("""
        -- Time-ordered ids for rows that set-based inserts create (the app makes the others with Guid.CreateVersion7).
        create function uuid_v7() returns uuid language sql volatile parallel safe
            as $$
                select encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
                    placing substring(int8send((extract(epoch from clock_timestamp()) * 1000)::bigint) from 3)
                    from 1 for 6), 52, 1), 53, 1), 'hex')::uuid
            $$;

        -- The chatbot's search folds accents before stemming, in the three languages a clinic speaks.
        create text search configuration unaccent_spanish (copy = spanish);
        alter text search configuration unaccent_spanish
            alter mapping for hword, hword_part, word with unaccent, spanish_stem;
        create text search configuration unaccent_german (copy = german);
        alter text search configuration unaccent_german
            alter mapping for hword, hword_part, word with unaccent, german_stem;
        create text search configuration unaccent_english (copy = english);
        alter text search configuration unaccent_english
            alter mapping for hword, hword_part, word with unaccent, english_stem;

        create table whatsapp_configs (
            clinic_id uuid not null references clinics (id),
            phone_number_id text not null,
            business_account_id text not null,
            access_token_sealed text not null,
            enabled boolean not null default false,
            created_at timestamptz not null default now(),
            updated_at timestamptz not null default now(),
            constraint pk_whatsapp_configs primary key (clinic_id),
            constraint ux_whatsapp_configs_phone_number_id unique (phone_number_id)
        );
        select enable_tenant_isolation('whatsapp_configs');

        create table faq_entries (
            id uuid not null,
            clinic_id uuid not null references clinics (id),
            question text not null,
            answer text not null,
            keywords text[] not null default '{}',
            active boolean not null default true,
            created_at timestamptz not null default now(),
            updated_at timestamptz not null default now(),
            constraint pk_faq_entries primary key (id),
            constraint ux_faq_entries_clinic_id unique (clinic_id, id)
        );
        select enable_tenant_isolation('faq_entries');

        create table recall_campaigns (
            id uuid not null,
            clinic_id uuid not null references clinics (id),
            name text not null,
            months_since_last_visit int not null check (months_since_last_visit between 1 and 120),
            message text not null,
            created_by uuid,
            created_at timestamptz not null default now(),
            constraint pk_recall_campaigns primary key (id),
            constraint ux_recall_campaigns_clinic_id unique (clinic_id, id)
        );
        select enable_tenant_isolation('recall_campaigns');

        -- What a message is for and whom it concerns; a null patient or appointment skips its reference.
        alter table outbox_messages
            add column kind text check (kind in ('reminder', 'reply', 'recall')),
            add column patient_id uuid,
            add column appointment_id uuid,
            add column campaign_id uuid,
            add column due_at timestamptz,
            add column delivery_status text check (delivery_status in ('sent', 'delivered', 'read', 'failed')),
            add column delivered_at timestamptz,
            add column read_at timestamptz,
            add column delivery_updated_at timestamptz,
            add constraint fk_outbox_messages_patient foreign key (clinic_id, patient_id) references patients (clinic_id, id),
            add constraint fk_outbox_messages_appointment foreign key (clinic_id, appointment_id) references appointments (clinic_id, id),
            add constraint fk_outbox_messages_campaign foreign key (clinic_id, campaign_id) references recall_campaigns (clinic_id, id);
        create index ix_outbox_messages_patient on outbox_messages (clinic_id, patient_id) where patient_id is not null;
        create index ix_outbox_messages_appointment on outbox_messages (clinic_id, appointment_id, id) where appointment_id is not null;
        create index ix_outbox_messages_campaign on outbox_messages (clinic_id, campaign_id) where campaign_id is not null;
        create index ix_outbox_messages_provider on outbox_messages (provider_message_id)
            where channel = 'whatsapp' and provider_message_id is not null;

        -- Inbound messages: Meta's id is unique, so a redelivery (also a concurrent one) inserts nothing.
        create table whatsapp_inbound (
            id uuid not null,
            clinic_id uuid not null references clinics (id),
            message_id text not null,
            from_phone text not null,
            body text,
            context_message_id text,
            sent_at timestamptz,
            received_at timestamptz not null default now(),
            status text not null default 'pending' check (status in ('pending', 'done', 'failed')),
            attempts int not null default 0,
            next_attempt_at timestamptz not null default now(),
            outcome text,
            patient_id uuid,
            appointment_id uuid,
            last_error text,
            processed_at timestamptz,
            constraint pk_whatsapp_inbound primary key (id),
            constraint ux_whatsapp_inbound_clinic_id unique (clinic_id, id),
            constraint ux_whatsapp_inbound_message unique (message_id),
            constraint fk_whatsapp_inbound_patient foreign key (clinic_id, patient_id) references patients (clinic_id, id),
            constraint fk_whatsapp_inbound_appointment foreign key (clinic_id, appointment_id) references appointments (clinic_id, id)
        );
        create index ix_whatsapp_inbound_due on whatsapp_inbound (next_attempt_at) where status = 'pending';
        select enable_tenant_isolation('whatsapp_inbound');
        """);
}
