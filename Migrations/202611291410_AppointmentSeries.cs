using FluentMigrator;

namespace ClinicFlow.Migrations;

/// <summary>
/// Recurring appointments: every occurrence is a normal appointment that names its series. The
/// partial index holds only series members (none before this change, so it builds at once) and
/// serves "this and following" changes. appointment_details shows the series id (a new last column:
/// create or replace keeps the view's existing columns as they are).
/// </summary>
[Migration(2026_11_29_14_10, "appointments.series_id: occurrences of a recurring appointment")]
public sealed class AppointmentSeries : ForwardOnlyMigration
{
    public override void Up() => Execute.Sql("""
        alter table appointments add column series_id uuid;
        create index ix_appointments_series on appointments (clinic_id, series_id, starts_at) where series_id is not null;

        create or replace view appointment_details with (security_invoker = true) as
        select a.id, a.clinic_id, a.doctor_id, a.patient_id, a.starts_at, a.ends_at, a.status, a.reason, a.notes,
               a.outside_schedule, a.created_at, a.updated_at, d.full_name as doctor_name, p.full_name as patient_name,
               a.series_id
        from appointments a
        join doctors d on d.clinic_id = a.clinic_id and d.id = a.doctor_id
        join patients p on p.clinic_id = a.clinic_id and p.id = a.patient_id;
        """);
}
