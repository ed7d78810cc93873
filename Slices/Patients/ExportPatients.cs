using System.Globalization;
using System.Text;
using Carter;
using ClinicFlow.Infrastructure;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Sylvan.Data.Csv;

namespace ClinicFlow.Slices.Patients;

/// <summary>
/// GET /api/patients/export: an admin downloads the clinic's patients as CSV with the columns of the
/// import (so the file can be imported again), oldest first, streamed row by row to the response.
/// </summary>
public sealed class ExportPatients : ICarterModule
{
    // Text cells a spreadsheet would read as a formula get a leading apostrophe (see ExportAudit);
    // an E.164 phone (+ and digits) is a number, not a formula, and stays importable as it is.
    private const string Sql = """
        select regexp_replace(full_name, '^([=+@\t\r-])', '''\1') as "fullName",
               case when phone ~ '^\+[0-9]+$' then phone else regexp_replace(phone, '^([=+@\t\r-])', '''\1') end as "phone",
               regexp_replace(email::text, '^([=+@\t\r-])', '''\1') as "email",
               to_char(birth_date, 'YYYY-MM-DD') as "birthDate",
               regexp_replace(document_id, '^([=+@\t\r-])', '''\1') as "documentId",
               regexp_replace(notes, '^([=+@\t\r-])', '''\1') as "notes"
        from patients
        where clinic_id = @ClinicId and erased_at is null
        order by id
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/patients")
            .MapGet("/export", Handle)
            .RequireAdmin()
            .WithName(nameof(ExportPatients))
            .WithSummary("Export the clinic's patients as CSV (the import's columns)")
            .Produces<string>(StatusCodes.Status200OK, "text/csv");

    private static async Task<Results<EmptyHttpResult, ApiProblem>> Handle(Tenant tenant, TimeProvider clock, CancellationToken ct)
    {
        // Npgsql streams rows off the wire as they are read; the transaction stays open until the handler returns.
        await using var reader = await tenant.Connection.ExecuteReaderAsync(tenant.Command(Sql, new { tenant.ClinicId }, ct));
        var response = tenant.Http.Response;
        response.ContentType = "text/csv; charset=utf-8";
        var date = clock.GetUtcNow().ToString("yyyyMMdd", CultureInfo.InvariantCulture);
        response.Headers.ContentDisposition = $"attachment; filename=\"patients-{date}.csv\"";
        await using (var text = new StreamWriter(response.Body, new UTF8Encoding(false), bufferSize: 16 * 1024, leaveOpen: true))
        {
            var csv = CsvDataWriter.Create(text, new CsvDataWriterOptions { NewLine = "\r\n" });
            await csv.WriteAsync(reader, ct);
        }

        return TypedResults.Empty;
    }
}
