using FluentMigrator;

namespace ClinicFlow.Migrations;

/// <summary>
/// An appointment as every appointment answer shows it: the row with its doctor's and patient's
/// names. One definition instead of the same two joins in each slice. The view runs with the
/// caller's rights (security_invoker), so the tables' row-level security applies through it; the
/// planner inlines it, so reads keep their index plans.
/// </summary>
[Migration(2026_11_23_15_00, "appointment_details: an appointment with its doctor's and patient's names")]
public sealed class AppointmentDetails : ForwardOnlyMigration
{
    public override void Up() => Execute.Sql("""
        create view appointment_details with (security_invoker = true) as
        select a.id, a.clinic_id, a.doctor_id, a.patient_id, a.starts_at, a.ends_at, a.status, a.reason, a.notes,
               a.outside_schedule, a.created_at, a.updated_at, d.full_name as doctor_name, p.full_name as patient_name
        from appointments a
        join doctors d on d.clinic_id = a.clinic_id and d.id = a.doctor_id
        join patients p on p.clinic_id = a.clinic_id and p.id = a.patient_id;
        """);
}
