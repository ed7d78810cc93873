using System.Globalization;
using Carter;
using ClinicFlow.Infrastructure;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Patients;

/// <summary>
/// GET /api/patients/export: an admin downloads the clinic's patients as CSV with the columns of the
/// import (so the file can be imported again), oldest first, streamed row by row to the response.
/// </summary>
public sealed class ExportPatients : ICarterModule
{
    // Free-text cells go through csv_safe() (no spreadsheet formulas); an E.164 phone (+ and digits)
    // is a number, not a formula, and stays importable as it is.
    private const string Sql = """
        select csv_safe(full_name) as "fullName",
               case when phone ~ '^\+[0-9]+$' then phone else csv_safe(phone) end as "phone",
               csv_safe(email::text) as "email",
               to_char(birth_date, 'YYYY-MM-DD') as "birthDate",
               csv_safe(document_id) as "documentId",
               csv_safe(notes) as "notes"
        from patients
        where clinic_id = @ClinicId and erased_at is null
        order by id
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/patients")
            .MapGet("/export", Handle)
            .RequireAdmin()
            .UsesLargePool()
            .WithName(nameof(ExportPatients))
            .WithSummary("Export the clinic's patients as CSV (the import's columns)")
            .Produces<string>(StatusCodes.Status200OK, "text/csv");

    private static async Task<Results<EmptyHttpResult, ApiProblem>> Handle(Tenant tenant, TimeProvider clock, CancellationToken ct)
    {
        // Npgsql streams rows off the wire as they are read; the transaction stays open until the handler returns.
        await using var reader = await tenant.ExecuteReaderAsync(Sql, new { tenant.ClinicId }, ct);
        var date = clock.GetUtcNow().ToString("yyyyMMdd", CultureInfo.InvariantCulture);
        await CsvExport.WriteAsync(tenant.Http, reader, $"patients-{date}.csv", ct);

        return TypedResults.Empty;
    }
}
