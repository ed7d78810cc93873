using FluentMigrator;

namespace ClinicFlow.Migrations;

/// <summary>
/// A version per doctor calendar, raised by the database whenever something the doctor's ICS feed
/// shows changes: one of their appointments (inserted, changed, moved to or from them, deleted) or
/// the name or erasure of a patient they see. The feed's ETag is then one indexed row away, so an
/// unchanged calendar's poll costs a primary-key read instead of an aggregate over its window.
/// Statement-level triggers with transition tables touch each doctor once per statement.
/// </summary>
[Migration(2026_11_23_14_00, "Calendar versions for cheap ICS validators")]
public sealed class CalendarVersions : ForwardOnlyMigration
{
    public override void Up() => Execute.Sql("""
        alter table doctors add column calendar_version bigint not null default 0;

        create function bump_calendar_versions_inserted() returns trigger language plpgsql as $$
        begin
            update doctors d set calendar_version = d.calendar_version + 1
            from (select distinct clinic_id, doctor_id from changed) c
            where d.clinic_id = c.clinic_id and d.id = c.doctor_id;
            return null;
        end $$;

        create function bump_calendar_versions_updated() returns trigger language plpgsql as $$
        begin
            update doctors d set calendar_version = d.calendar_version + 1
            from (select clinic_id, doctor_id from changed union select clinic_id, doctor_id from previous) c
            where d.clinic_id = c.clinic_id and d.id = c.doctor_id;
            return null;
        end $$;

        create function bump_calendar_versions_deleted() returns trigger language plpgsql as $$
        begin
            update doctors d set calendar_version = d.calendar_version + 1
            from (select distinct clinic_id, doctor_id from previous) c
            where d.clinic_id = c.clinic_id and d.id = c.doctor_id;
            return null;
        end $$;

        create trigger tr_appointments_calendar_inserted after insert on appointments
            referencing new table as changed
            for each statement execute function bump_calendar_versions_inserted();
        create trigger tr_appointments_calendar_updated after update on appointments
            referencing old table as previous new table as changed
            for each statement execute function bump_calendar_versions_updated();
        create trigger tr_appointments_calendar_deleted after delete on appointments
            referencing old table as previous
            for each statement execute function bump_calendar_versions_deleted();

        -- A patient's name (or its erasure) shows in every calendar they have an appointment in.
        create function bump_calendar_versions_for_patients() returns trigger language plpgsql as $$
        begin
            update doctors d set calendar_version = d.calendar_version + 1
            from (select distinct a.clinic_id, a.doctor_id
                  from changed p
                  join previous o on o.id = p.id
                  join appointments a on a.clinic_id = p.clinic_id and a.patient_id = p.id
                  where p.full_name is distinct from o.full_name or p.erased_at is distinct from o.erased_at) c
            where d.clinic_id = c.clinic_id and d.id = c.doctor_id;
            return null;
        end $$;

        create trigger tr_patients_calendar_updated after update on patients
            referencing old table as previous new table as changed
            for each statement execute function bump_calendar_versions_for_patients();
        """);
}
