using System.Data.Common;
using System.Text;
using ClinicFlow.Slices.Calendars;
using Dapper;
using Ical.Net;
using Ical.Net.CalendarComponents;
using Ical.Net.DataTypes;
using Ical.Net.Serialization;

namespace ClinicFlow.Benchmarks;

/// <summary>
/// The baseline: <c>GetIcsFeed.WriteAsync</c> as it was before commit 09160cb, which replaced it
/// ("ICS feed written directly as RFC 5545 instead of through Ical.Net's object graph"). Copied
/// unchanged but for the names of the two records (kept apart from the app's own; these
/// have the same shape, so Dapper maps them alike), with the app's <c>GetIcsFeed.Initials</c>.
/// </summary>
internal static class IcalNetFeedWriter
{
    public sealed record Feed(Guid DoctorId, Guid ClinicId, string DoctorName, string ClinicName, string Timezone,
        bool ShowNames, string ETag);

    public sealed record Row(Guid Id, DateTime StartsAt, DateTime EndsAt, string Status, int Sequence, DateTime UpdatedAt,
        string PatientName, bool PatientErased, string? Reason);

    public static async Task WriteAsync(Stream body, Feed feed, DbDataReader reader, CancellationToken ct)
    {
        var serializer = new CalendarSerializer();
        var calendar = new Ical.Net.Calendar { Method = CalendarMethods.Publish, ProductId = "-//ClinicFlow//Doctor calendar//EN" };
        calendar.AddProperty("X-WR-CALNAME", $"{feed.DoctorName} · {feed.ClinicName}");
        calendar.AddProperty("X-WR-TIMEZONE", feed.Timezone);
        calendar.AddProperty("X-PUBLISHED-TTL", "PT1H");
        var shell = serializer.SerializeToString(calendar) ?? "";
        var end = shell.LastIndexOf("END:VCALENDAR", StringComparison.Ordinal);

        await using var writer = new StreamWriter(body, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), 16 * 1024, leaveOpen: true);
        await writer.WriteAsync(shell.AsMemory(0, end), ct);
        var parse = reader.GetRowParser<Row>();
        while (await reader.ReadAsync(ct))
        {
            await writer.WriteAsync(serializer.SerializeToString(Event(parse(reader), feed.ShowNames)).AsMemory(), ct);
        }

        await writer.WriteAsync(shell.AsMemory(end), ct);
    }

    private static CalendarEvent Event(Row row, bool showNames) => new()
    {
        Uid = $"{row.Id}@clinicflow",
        DtStamp = Utc(row.UpdatedAt),
        DtStart = Utc(row.StartsAt),
        DtEnd = Utc(row.EndsAt),
        Sequence = row.Sequence,
        Status = StatusOf(row.Status),
        Summary = row.PatientErased ? GetIcsFeed.ErasedPatient : showNames ? row.PatientName : GetIcsFeed.Initials(row.PatientName),
        Description = showNames && !row.PatientErased && !string.IsNullOrWhiteSpace(row.Reason) ? row.Reason : null,
    };

    private static CalDateTime Utc(DateTime instant) =>
        new(DateTime.SpecifyKind(instant, DateTimeKind.Utc), CalDateTime.UtcTzId, true);

    private static string StatusOf(string status) => status switch
    {
        "scheduled" => EventStatus.Tentative,
        "cancelled" or "no_show" => EventStatus.Cancelled,
        _ => EventStatus.Confirmed,
    };
}
