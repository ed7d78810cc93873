using FluentMigrator;

namespace ClinicFlow.Migrations;

/// <summary>
/// csv_safe(text): the CSV exports' guard against spreadsheet formula injection (OWASP): a cell that
/// starts with =, +, -, @, tab or carriage return gets a leading apostrophe. Stored data is untouched.
/// </summary>
[Migration(2026_11_23_11_30, "csv_safe() for CSV exports")]
public sealed class CsvSafe : ForwardOnlyMigration
{
    public override void Up() => Execute.Sql("""
        create function csv_safe(text) returns text language sql immutable parallel safe
            as $$ select regexp_replace($1, '^([=+@\t\r-])', '''\1') $$;
        """);
}
