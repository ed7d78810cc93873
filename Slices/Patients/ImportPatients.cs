using System.Globalization;
using System.Text;
using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Clinics;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;
using Npgsql;
using NpgsqlTypes;
using Sylvan.Data.Csv;

namespace ClinicFlow.Slices.Patients;

/// <summary>
/// POST /api/patients/import: an admin uploads a CSV of patients (multipart, one file part). The file
/// is streamed from the request body through the CSV reader into a binary COPY of a staging table, so
/// memory stays flat whatever its size; one set-based insert then adds the rows that duplicate
/// neither an existing patient nor an earlier row of the file. Bad rows are reported, never fatal.
/// </summary>
public sealed class ImportPatients : ICarterModule
{
    public const int MaxErrors = 1000;

    public const long MaxFileBytes = 50L * 1024 * 1024;

    private const string StagingSql = """
        create temp table patient_import (
            row_no int not null,
            id uuid not null,
            full_name text not null,
            phone text,
            email text,
            birth_date date,
            document_id text,
            notes text
        ) on commit drop
        """;

    private const string CopySql = """
        copy pg_temp.patient_import (row_no, id, full_name, phone, email, birth_date, document_id, notes) from stdin (format binary)
        """;

    // Within the file the first row of a document id, and the first row of a phone + name, wins.
    // Against the clinic: the document id through its unique index (on conflict), phone + name by lookup.
    private const string InsertSql = """
        with ranked as (
            select s.*,
                   row_number() over (partition by s.document_id order by s.row_no) as document_rank,
                   row_number() over (partition by s.phone, lower(s.full_name) order by s.row_no) as phone_rank
            from pg_temp.patient_import s
        )
        insert into patients (id, clinic_id, full_name, phone, email, birth_date, document_id, notes)
        select r.id, @ClinicId, r.full_name, r.phone, r.email, r.birth_date, r.document_id, r.notes
        from ranked r
        where (r.document_id is null or r.document_rank = 1)
          and (r.phone is null or r.phone_rank = 1)
          and not exists (
              select 1 from patients p
              where p.clinic_id = @ClinicId and p.phone = r.phone and lower(p.full_name) = lower(r.full_name)
                and p.erased_at is null)
        order by r.row_no
        on conflict do nothing
        """;

    private static readonly string[] Columns = ["fullName", "phone", "email", "birthDate", "documentId", "notes"];

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/patients")
            .MapPost("/import", Handle)
            .RequireAdmin()
            .WithMetadata(new Microsoft.AspNetCore.Mvc.RequestSizeLimitAttribute(MaxFileBytes))
            .WithName(nameof(ImportPatients))
            .WithSummary("Import patients from a CSV file (multipart); bad rows are reported, duplicates skipped")
            .Accepts<IFormFile>("multipart/form-data")
            .ProducesErrors(StatusCodes.Status413PayloadTooLarge, StatusCodes.Status415UnsupportedMediaType);

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(Tenant tenant, CancellationToken ct)
    {
        var request = tenant.Http.Request;
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var media)
            || !media.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase)
            || HeaderUtilities.RemoveQuotes(media.Boundary).Value is not { Length: > 0 } boundary)
        {
            return ApiProblem.Of(StatusCodes.Status415UnsupportedMediaType, ErrorCodes.UnsupportedMediaType, new(
                "Upload the CSV as multipart/form-data.", "Suba el CSV como multipart/form-data.", "Laden Sie die CSV als multipart/form-data hoch."));
        }

        var country = (await tenant.ExecuteScalarAsync<string>(ClinicRules.CountrySql, new { tenant.ClinicId }, ct))!.Trim();
        await tenant.ExecuteAsync(StagingSql, null, ct);

        var errors = new List<RowError>();
        var errorCount = 0;
        int staged;
        try
        {
            var multipart = new MultipartReader(boundary, request.Body);
            MultipartSection? file = null;
            while (await multipart.ReadNextSectionAsync(ct) is { } section)
            {
                if (ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition) && disposition.IsFileDisposition())
                {
                    file = section;
                    break;
                }
            }

            if (file is null)
            {
                return ApiProblem.Validation("file", new(
                    "Attach one CSV file.", "Adjunte un archivo CSV.", "Hängen Sie eine CSV-Datei an."));
            }

            using var text = new StreamReader(file.Body, new UTF8Encoding(false), detectEncodingFromByteOrderMarks: true, bufferSize: 64 * 1024);
            var header = await text.ReadLineAsync(ct) ?? "";
            var options = new CsvDataReaderOptions
            {
                HasHeaders = false,
                Delimiter = header.Count(c => c == ';') > header.Count(c => c == ',') ? ';' : ',',
                BufferSize = 64 * 1024,
                MaxBufferSize = 1024 * 1024,
            };
            var ordinals = await OrdinalsAsync(header, options, ct);
            if (ordinals[0] < 0)
            {
                return ApiProblem.Validation("file", new(
                    "The header row must name a fullName column.", "La fila de encabezado debe incluir la columna fullName.",
                    "Die Kopfzeile muss eine Spalte fullName enthalten."));
            }

            await using var csv = await CsvDataReader.CreateAsync(text, options, ct);
            (staged, errorCount) = await StageAsync(tenant, csv, ordinals, country, errors, ct);
        }
        catch (Exception e) when (e is InvalidDataException or CsvFormatException or CsvRecordTooLargeException
            || (e is IOException and not BadHttpRequestException && !ct.IsCancellationRequested))
        {
            return ApiProblem.Validation("file", new(
                "The file is not a readable CSV upload.", "El archivo no es un CSV legible.", "Die Datei ist keine lesbare CSV-Datei."));
        }

        var imported = await tenant.ExecuteAsync(InsertSql, new { tenant.ClinicId }, ct);
        var skipped = staged - imported;
        await tenant.AuditAsync("patient.import", "patient", null, new { imported, skipped, errors = errorCount }, ct);
        return TypedResults.Ok(new Response(imported, skipped, errors, errorCount, errorCount > errors.Count));
    }

    /// <summary>The ordinal of each of <see cref="Columns"/> in the header line, -1 when absent (names are case-insensitive).</summary>
    private static async Task<int[]> OrdinalsAsync(string header, CsvDataReaderOptions options, CancellationToken ct)
    {
        var ordinals = new int[Columns.Length];
        Array.Fill(ordinals, -1);
        await using var csv = await CsvDataReader.CreateAsync(new StringReader(header), options, ct);
        if (!await csv.ReadAsync(ct))
        {
            return ordinals;
        }

        for (var i = 0; i < csv.RowFieldCount; i++)
        {
            var name = csv.GetString(i).Trim();
            var index = Array.FindIndex(Columns, c => c.Equals(name, StringComparison.OrdinalIgnoreCase));
            if (index >= 0 && ordinals[index] < 0)
            {
                ordinals[index] = i;
            }
        }

        return ordinals;
    }

    private static async Task<(int Staged, int Errors)> StageAsync(
        Tenant tenant, CsvDataReader csv, int[] ordinals, string country, List<RowError> errors, CancellationToken ct)
    {
        var staged = 0;
        var errorCount = 0;
        var row = 1;
        await using var copy = await (await tenant.ConnectionAsync(ct)).BeginBinaryImportAsync(CopySql, ct);
        while (await csv.ReadAsync(ct))
        {
            row++;
            var fields = new string?[Columns.Length];
            var blank = true;
            for (var c = 0; c < Columns.Length; c++)
            {
                var ordinal = ordinals[c];
                var value = ordinal >= 0 && ordinal < csv.RowFieldCount ? csv.GetString(ordinal).Trim() : "";
                fields[c] = value.Length == 0 ? null : value;
                blank &= value.Length == 0;
            }

            if (blank && AllBlank(csv))
            {
                continue;
            }

            var (patient, message) = Parse(fields, country);
            if (patient is null)
            {
                if (errorCount++ < MaxErrors)
                {
                    errors.Add(new RowError(row, message!.Current));
                }

                continue;
            }

            await copy.StartRowAsync(ct);
            await copy.WriteAsync(row, NpgsqlDbType.Integer, ct);
            await copy.WriteAsync(Guid.CreateVersion7(), NpgsqlDbType.Uuid, ct);
            await copy.WriteAsync(patient.FullName, NpgsqlDbType.Text, ct);
            await WriteAsync(copy, patient.Phone, NpgsqlDbType.Text, ct);
            await WriteAsync(copy, patient.Email, NpgsqlDbType.Text, ct);
            await WriteAsync(copy, patient.BirthDate, NpgsqlDbType.Date, ct);
            await WriteAsync(copy, patient.DocumentId, NpgsqlDbType.Text, ct);
            await WriteAsync(copy, patient.Notes, NpgsqlDbType.Text, ct);
            staged++;
        }

        await copy.CompleteAsync(ct);
        return (staged, errorCount);
    }

    private static bool AllBlank(CsvDataReader csv)
    {
        for (var i = 0; i < csv.RowFieldCount; i++)
        {
            if (!string.IsNullOrWhiteSpace(csv.GetString(i)))
            {
                return false;
            }
        }

        return true;
    }

    private static Task WriteAsync<T>(NpgsqlBinaryImporter copy, T? value, NpgsqlDbType type, CancellationToken ct) =>
        value is null ? copy.WriteNullAsync(ct) : copy.WriteAsync(value, type, ct);

    private sealed record Row(string FullName, string? Phone, string? Email, DateOnly? BirthDate, string? DocumentId, string? Notes);

    private static (Row? Row, Text? Error) Parse(string?[] fields, string country)
    {
        var (name, phone, email, birthDate, documentId, notes) = (fields[0], fields[1], fields[2], fields[3], fields[4], fields[5]);
        if (name is null)
        {
            return (null, new("fullName is required.", "fullName es obligatorio.", "fullName ist erforderlich."));
        }

        if (Array.Exists(fields, f => f is not null && InputSafety.IsUnsafe(f)))
        {
            return (null, new("A value contains control characters.", "Un valor contiene caracteres de control.", "Ein Wert enthält Steuerzeichen."));
        }

        if (name.Length > 200 || email?.Length > 254 || documentId?.Length > 100 || notes?.Length > 10_000)
        {
            return (null, new("A value is too long.", "Un valor es demasiado largo.", "Ein Wert ist zu lang."));
        }

        string? e164 = null;
        if (phone is not null && (e164 = ClinicRules.NormalizePhone(phone, country)) is null)
        {
            return (null, new("phone is not a valid phone number.", "phone no es un número de teléfono válido.", "phone ist keine gültige Telefonnummer."));
        }

        if (email is not null && !IsEmail(email))
        {
            return (null, new("email is not a valid email address.", "email no es una dirección de correo válida.", "email ist keine gültige E-Mail-Adresse."));
        }

        DateOnly? birth = null;
        if (birthDate is not null)
        {
            if (!DateOnly.TryParseExact(birthDate, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
            {
                return (null, new("birthDate must be a date as YYYY-MM-DD.", "birthDate debe ser una fecha AAAA-MM-DD.", "birthDate muss ein Datum im Format JJJJ-MM-TT sein."));
            }

            birth = date;
        }

        return (new Row(name, e164, email, birth, documentId, notes), null);
    }

    // The same rule as FluentValidation's EmailAddress(): one @, not first, not last; no whitespace.
    private static bool IsEmail(string value)
    {
        var at = value.IndexOf('@', StringComparison.Ordinal);
        return at > 0 && at == value.LastIndexOf('@') && at < value.Length - 1 && !value.Any(char.IsWhiteSpace);
    }

    public sealed record RowError(int Row, string Message);

    /// <summary><paramref name="Errors"/> holds the first <see cref="MaxErrors"/>; <paramref name="ErrorCount"/> counts them all.</summary>
    public sealed record Response(int Imported, int Skipped, IReadOnlyList<RowError> Errors, int ErrorCount, bool ErrorsTruncated);
}
