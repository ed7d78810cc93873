using System.Data;
using System.Text;
using BenchmarkDotNet.Attributes;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Calendars;
using Microsoft.Extensions.DependencyInjection;

namespace ClinicFlow.Benchmarks;

/// <summary>
/// A doctor's ICS feed rendered anew (the first request after any change of the calendar): the app's
/// <c>GetIcsFeed.WriteAsync</c>, RFC 5545 written directly, beside the Ical.Net serialization it
/// replaced (<see cref="IcalNetFeedWriter"/>). Both read the same rows, in the columns and types of the
/// feed's query, through Dapper from an in-memory reader into a <c>MemoryStream</c>, then copy it out
/// as the handler does before keeping the body.
/// </summary>
[MemoryDiagnoser]
public class IcsFeedBenchmarks
{
    private const string DoctorName = "Dra. María José Fernández";
    private const string ClinicName = "Clínica Dental Sonrisas, Palermo";
    private const string Timezone = "America/Argentina/Buenos_Aires";

    private DataTable _rows = null!;
    private GetIcsFeed.Feed _feed = null!;
    private IcalNetFeedWriter.Feed _baselineFeed = null!;

    /// <summary>Events in the feed: a month back and six ahead hold about 5 000 for a full-time doctor.</summary>
    [Params(500, 5_000)]
    public int Events { get; set; }

    /// <summary>The clinic's <c>ics_show_patient_names</c>: off (the default) writes initials, on writes names and reasons.</summary>
    [Params(false, true)]
    public bool ShowNames { get; set; }

    [GlobalSetup]
    public async Task Setup()
    {
        new ServiceCollection().AddDatabase(); // Dapper's conventions as the app sets them at start-up
        _rows = FeedRows(Events);
        _feed = new GetIcsFeed.Feed(Guid.NewGuid(), Guid.NewGuid(), DoctorName, ClinicName, Timezone, ShowNames, "bench");
        _baselineFeed = new IcalNetFeedWriter.Feed(Guid.NewGuid(), Guid.NewGuid(), DoctorName, ClinicName, Timezone, ShowNames, "bench");

        // Both write a feed Ical.Net reads back with every event (as the app's tests check).
        var direct = await DirectWriter();
        var baseline = await IcalNetSerializer();
        foreach (var (name, body) in new[] { ("direct", direct), ("Ical.Net", baseline) })
        {
            var calendar = Ical.Net.Calendar.Load(Encoding.UTF8.GetString(body))
                ?? throw new InvalidOperationException($"The {name} feed does not parse.");
            if (calendar.Events.Count != Events)
            {
                throw new InvalidOperationException($"The {name} feed holds {calendar.Events.Count} events, not {Events}.");
            }

            Console.WriteLine($"// {name} feed: {Events} events, {body.Length} bytes");
        }

        Console.WriteLine($"// byte for byte the same feed: {direct.AsSpan().SequenceEqual(baseline)}");
    }

    [Benchmark(Baseline = true)]
    public async Task<byte[]> IcalNetSerializer()
    {
        using var reader = _rows.CreateDataReader();
        using var buffer = new MemoryStream();
        await IcalNetFeedWriter.WriteAsync(buffer, _baselineFeed, reader, CancellationToken.None);
        return buffer.ToArray();
    }

    [Benchmark]
    public async Task<byte[]> DirectWriter()
    {
        using var reader = _rows.CreateDataReader();
        using var buffer = new MemoryStream();
        await GetIcsFeed.WriteAsync(buffer, _feed, reader, CancellationToken.None);
        return buffer.ToArray();
    }

    /// <summary>
    /// The columns of the feed's row query, typed as Npgsql returns them (timestamptz as UTC
    /// <see cref="DateTime"/>): 20 appointments a day from a month back, names with accents, some
    /// reasons long enough to fold and with characters to escape, a few erased patients and every status.
    /// </summary>
    private static DataTable FeedRows(int count)
    {
        string[] first = ["María", "José", "Lucía", "Jürgen", "Ana Sofía", "Martín", "Zoë", "Søren", "Camila", "Tomás"];
        string[] last = ["González", "Fernández", "Müller", "Peña", "O'Connor", "Rodríguez Pérez", "Schäfer", "Núñez", "López", "Weiß"];
        string?[] reasons =
        [
            null,
            "Control",
            "Limpieza dental",
            "Dolor en muela inferior izquierda; sensibilidad al frío, desde hace dos semanas",
            "Kontrolle nach Wurzelbehandlung, Zahn 36, Röntgenbild mitbringen",
            "Revisión de ortodoncia\nTraer placa de descanso",
        ];
        string[] statuses = ["scheduled", "confirmed", "confirmed", "completed", "confirmed", "cancelled", "scheduled", "no_show"];

        var table = new DataTable("appointments");
        table.Columns.Add("id", typeof(Guid));
        table.Columns.Add("starts_at", typeof(DateTime)).DateTimeMode = DataSetDateTime.Utc;
        table.Columns.Add("ends_at", typeof(DateTime)).DateTimeMode = DataSetDateTime.Utc;
        table.Columns.Add("status", typeof(string));
        table.Columns.Add("sequence", typeof(int));
        table.Columns.Add("updated_at", typeof(DateTime)).DateTimeMode = DataSetDateTime.Utc;
        table.Columns.Add("patient_name", typeof(string));
        table.Columns.Add("patient_erased", typeof(bool));
        table.Columns.Add("reason", typeof(string));

        var random = new Random(20261129);
        var from = new DateTime(2026, 10, 30, 11, 0, 0, DateTimeKind.Utc);
        var id = new byte[16];
        for (var i = 0; i < count; i++)
        {
            var starts = from.AddDays(i / 20).AddMinutes(i % 20 * 30);
            var erased = random.Next(50) == 0;
            random.NextBytes(id);
            table.Rows.Add(
                new Guid(id),
                starts,
                starts.AddMinutes(30),
                statuses[random.Next(statuses.Length)],
                random.Next(3),
                starts.AddDays(-random.Next(1, 60)).AddSeconds(random.Next(86_400)),
                erased ? "—" : $"{first[random.Next(first.Length)]} {last[random.Next(last.Length)]}",
                erased,
                (object?)reasons[random.Next(reasons.Length)] ?? DBNull.Value);
        }

        return table;
    }
}
