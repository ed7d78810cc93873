using System.Data;
using BenchmarkDotNet.Attributes;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Appointments;
using Dapper;
using Microsoft.Extensions.DependencyInjection;

namespace ClinicFlow.Benchmarks;

/// <summary>
/// What mapping one wide row costs: Dapper's row parser, asked for as the app's
/// <c>DbScope</c> asks for it (<c>reader.GetRowParser&lt;object&gt;(typeof(T))</c>), building the
/// app's own <c>ListAppointments.Row</c> (13 columns: 3 uuid, 4 timestamptz through the app's
/// DateTimeOffset handler, 5 text, 1 boolean), beside a hand-written mapper with the reader's typed
/// getters building a record of the same shape. Rows come from an in-memory
/// <see cref="DataTableReader"/> into a list, as <c>QueryPreludedAsync</c> collects them; the figures
/// are per row (the reader's own cost is in both).
/// </summary>
[MemoryDiagnoser]
public class RowMappingBenchmarks
{
    private const int Rows = 1_000;

    private DataTable _table = null!;

    [GlobalSetup]
    public void Setup()
    {
        new ServiceCollection().AddDatabase(); // Dapper's conventions as the app sets them at start-up
        _table = ListRows(Rows);

        // Both build the same values: the two records print alike (both are named Row).
        var dapper = ParseWithDapper();
        var hand = HandWritten();
        for (var i = 0; i < Rows; i++)
        {
            var (a, b) = (dapper[i].ToString(), hand[i].ToString());
            if (a != b)
            {
                throw new InvalidOperationException($"Row {i} differs:\n  Dapper: {a}\n  hand:   {b}");
            }
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Rows)]
    public List<Row> HandWritten()
    {
        using var reader = _table.CreateDataReader();
        var rows = new List<Row>();
        while (reader.Read())
        {
            rows.Add(new Row(
                reader.GetGuid(0),
                reader.GetGuid(1),
                reader.GetGuid(2),
                Utc(reader.GetDateTime(3)),
                Utc(reader.GetDateTime(4)),
                reader.GetString(5),
                reader.IsDBNull(6) ? null : reader.GetString(6),
                reader.IsDBNull(7) ? null : reader.GetString(7),
                reader.GetBoolean(8),
                Utc(reader.GetDateTime(9)),
                Utc(reader.GetDateTime(10)),
                reader.GetString(11),
                reader.GetString(12)));
        }

        return rows;
    }

    [Benchmark(OperationsPerInvoke = Rows)]
    public object DapperRowParser() => ParseWithDapper();

    private List<ListAppointments.Row> ParseWithDapper()
    {
        using var reader = _table.CreateDataReader();
        var rows = new List<ListAppointments.Row>();
        var parse = reader.GetRowParser<object>(typeof(ListAppointments.Row));
        while (reader.Read())
        {
            rows.Add((ListAppointments.Row)parse(reader));
        }

        return rows;
    }

    /// <summary>The shape of <c>ListAppointments.Row</c>, built by hand.</summary>
    public sealed record Row(Guid Id, Guid DoctorId, Guid PatientId, DateTimeOffset StartsAt, DateTimeOffset EndsAt, string Status,
        string? Reason, string? Notes, bool OutsideSchedule, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, string DoctorName,
        string PatientName);

    // What the app's DateTimeOffset handler does with the UTC DateTime Npgsql returns for timestamptz.
    private static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));

    /// <summary>The columns of <c>ListAppointments</c>' query, typed as Npgsql returns them.</summary>
    private static DataTable ListRows(int count)
    {
        var table = new DataTable("appointment_details");
        table.Columns.Add("id", typeof(Guid));
        table.Columns.Add("doctor_id", typeof(Guid));
        table.Columns.Add("patient_id", typeof(Guid));
        table.Columns.Add("starts_at", typeof(DateTime)).DateTimeMode = DataSetDateTime.Utc;
        table.Columns.Add("ends_at", typeof(DateTime)).DateTimeMode = DataSetDateTime.Utc;
        table.Columns.Add("status", typeof(string));
        table.Columns.Add("reason", typeof(string));
        table.Columns.Add("notes", typeof(string));
        table.Columns.Add("outside_schedule", typeof(bool));
        table.Columns.Add("created_at", typeof(DateTime)).DateTimeMode = DataSetDateTime.Utc;
        table.Columns.Add("updated_at", typeof(DateTime)).DateTimeMode = DataSetDateTime.Utc;
        table.Columns.Add("doctor_name", typeof(string));
        table.Columns.Add("patient_name", typeof(string));

        var random = new Random(20261129);
        var doctors = Enumerable.Range(0, 5).Select(_ => Guid.NewGuid()).ToArray();
        var from = new DateTime(2026, 11, 30, 11, 0, 0, DateTimeKind.Utc);
        for (var i = 0; i < count; i++)
        {
            var starts = from.AddMinutes(i * 15);
            var created = starts.AddDays(-random.Next(1, 30));
            table.Rows.Add(
                Guid.NewGuid(),
                doctors[i % doctors.Length],
                Guid.NewGuid(),
                starts,
                starts.AddMinutes(30),
                i % 7 == 0 ? "scheduled" : "confirmed",
                i % 3 == 0 ? DBNull.Value : "Control y limpieza",
                i % 5 == 0 ? "Alergia a la penicilina" : DBNull.Value,
                i % 11 == 0,
                created,
                created.AddHours(random.Next(48)),
                "Dra. María José Fernández",
                "Jürgen Müller");
        }

        return table;
    }
}
