using System.Data.Common;
using System.Text;
using Sylvan.Data.Csv;

namespace ClinicFlow.Infrastructure;

/// <summary>
/// Streams a query's rows to the response as CSV (RFC 4180, CRLF, UTF-8 without BOM), header row
/// from the column names. Npgsql reads rows off the wire as they are written, so memory stays flat
/// whatever the size; call it inside the handler, while the request's transaction is open.
/// Select text columns through <c>csv_safe(…)</c> so no cell starts a spreadsheet formula.
/// </summary>
public static class CsvExport
{
    public static async Task WriteAsync(HttpContext http, DbDataReader reader, string fileName, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(http);
        var response = http.Response;
        response.ContentType = "text/csv; charset=utf-8";
        response.Headers.ContentDisposition = $"attachment; filename=\"{fileName}\"";
        await using var text = new StreamWriter(response.Body, new UTF8Encoding(false), bufferSize: 16 * 1024, leaveOpen: true);
        var csv = CsvDataWriter.Create(text, new CsvDataWriterOptions { NewLine = "\r\n" });
        await csv.WriteAsync(reader, ct);
    }
}
