using FluentMigrator;

namespace ClinicFlow.Migrations;

/// <summary>
/// An appointment lasts at most 12 hours, as the API already refuses longer ones. Said by the
/// database too, because range reads rely on it: an appointment overlapping a window cannot start
/// more than 12 hours before it, which turns "overlaps" into a bounded index range scan.
/// </summary>
[Migration(2026_11_23_14_30, "Appointments last at most 12 hours")]
public sealed class AppointmentLength : ForwardOnlyMigration
{
    public override void Up() => Execute.Sql("""
        alter table appointments add constraint ck_appointments_length check (ends_at - starts_at <= interval '12 hours');
        """);
}
