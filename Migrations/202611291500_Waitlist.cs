using FluentMigrator;

namespace ClinicFlow.Migrations;

/// <summary>
/// The waitlist: patients waiting for an earlier slot (a window, a length, optionally one doctor)
/// and the WhatsApp offers of freed slots made to them. Both tables are clinic-owned with composite
/// keys and forced row-level security. An entry has at most one open offer (a partial unique index);
/// an accepted offer names the appointment it booked. The clinic's <c>offer_minutes</c> says how long
/// an offer stays open, and the outbox learns the offer message kind.
/// </summary>
[Migration(2026_11_29_15_00, "Waitlist: entries, offers, clinics.offer_minutes, outbox kind waitlist_offer")]
public sealed class Waitlist : ForwardOnlyMigration
{
    public override void Up() => Execute.Sql("""
        alter table clinics add column offer_minutes int not null default 30
            constraint ck_clinics_offer_minutes check (offer_minutes between 5 and 1440);

        alter table outbox_messages drop constraint outbox_messages_kind_check;
        alter table outbox_messages add constraint ck_outbox_messages_kind
            check (kind in ('reminder', 'reply', 'recall', 'waitlist_offer'));

        create table waitlist_entries (
            id uuid not null,
            clinic_id uuid not null references clinics (id),
            patient_id uuid not null,
            -- null: any doctor of the clinic will do
            doctor_id uuid,
            window_from timestamptz not null,
            window_to timestamptz not null,
            duration_minutes int not null check (duration_minutes between 5 and 720),
            note text,
            status text not null default 'waiting'
                check (status in ('waiting', 'offered', 'booked', 'expired', 'cancelled')),
            created_by uuid,
            created_at timestamptz not null default now(),
            updated_at timestamptz not null default now(),
            constraint pk_waitlist_entries primary key (id),
            constraint ux_waitlist_entries_clinic_id unique (clinic_id, id),
            constraint fk_waitlist_entries_patient foreign key (clinic_id, patient_id) references patients (clinic_id, id),
            constraint fk_waitlist_entries_doctor foreign key (clinic_id, doctor_id) references doctors (clinic_id, id),
            constraint ck_waitlist_entries_window check (window_from < window_to)
        );
        -- The list (by id, i.e. waiting order) per doctor, the waiting entries a freed slot looks at,
        -- a patient's entries (erasure), and the waiting entries whose window ends (the expiry worker).
        create index ix_waitlist_entries_doctor on waitlist_entries (clinic_id, doctor_id, id);
        create index ix_waitlist_entries_waiting on waitlist_entries (clinic_id, id) where status = 'waiting';
        create index ix_waitlist_entries_patient on waitlist_entries (clinic_id, patient_id);
        create index ix_waitlist_entries_window_end on waitlist_entries (window_to) where status = 'waiting';
        select enable_tenant_isolation('waitlist_entries');

        create table waitlist_offers (
            id uuid not null,
            clinic_id uuid not null references clinics (id),
            entry_id uuid not null,
            doctor_id uuid not null,
            starts_at timestamptz not null,
            ends_at timestamptz not null,
            status text not null default 'offered'
                check (status in ('offered', 'accepted', 'taken', 'declined', 'expired', 'cancelled')),
            expires_at timestamptz not null,
            -- the WhatsApp message that carried the offer (a reply quoting it answers this offer)
            message_id uuid references outbox_messages (id),
            appointment_id uuid,
            created_at timestamptz not null default now(),
            closed_at timestamptz,
            constraint pk_waitlist_offers primary key (id),
            constraint ux_waitlist_offers_clinic_id unique (clinic_id, id),
            constraint fk_waitlist_offers_entry foreign key (clinic_id, entry_id) references waitlist_entries (clinic_id, id),
            constraint fk_waitlist_offers_doctor foreign key (clinic_id, doctor_id) references doctors (clinic_id, id),
            constraint fk_waitlist_offers_appointment foreign key (clinic_id, appointment_id) references appointments (clinic_id, id),
            constraint ck_waitlist_offers_range check (starts_at < ends_at),
            constraint ck_waitlist_offers_booked check ((status = 'accepted') = (appointment_id is not null))
        );
        create unique index ux_waitlist_offers_open on waitlist_offers (clinic_id, entry_id) where status = 'offered';
        create index ix_waitlist_offers_entry on waitlist_offers (clinic_id, entry_id, id);
        create index ix_waitlist_offers_expiry on waitlist_offers (expires_at) where status = 'offered';
        create index ix_waitlist_offers_message on waitlist_offers (message_id) where message_id is not null;
        select enable_tenant_isolation('waitlist_offers');
        """);
}
