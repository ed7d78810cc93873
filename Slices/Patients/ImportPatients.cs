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

    private const int ParseBatch = 2048;

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

    // Rows that repeat an earlier row of the file never reach the staging table (StageAsync). Against
    // the clinic: phone + name by lookup, the document id through its unique index; the conflict
    // target names that index alone, so the other unique indexes are not probed before each insert
    // (ids are new, and an import sets no lookup hash).
    private const string InsertSql = """
        insert into patients (id, clinic_id, full_name, phone, email, birth_date, document_id, notes)
        select s.id, @ClinicId, s.full_name, s.phone, s.email, s.birth_date, s.document_id, s.notes
        from pg_temp.patient_import s
        where not exists (
              select 1 from patients p
              where p.clinic_id = @ClinicId and p.phone = s.phone and lower(p.full_name) = lower(s.full_name)
                and p.erased_at is null)
        on conflict (clinic_id, document_id) where document_id is not null do nothing
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
        int repeated;
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
            (staged, repeated, errorCount) = await StageAsync(tenant, csv, ordinals, country, errors, ct);
        }
        catch (Exception e) when (e is InvalidDataException or CsvFormatException or CsvRecordTooLargeException
            || (e is IOException and not BadHttpRequestException && !ct.IsCancellationRequested))
        {
            return ApiProblem.Validation("file", new(
                "The file is not a readable CSV upload.", "El archivo no es un CSV legible.", "Die Datei ist keine lesbare CSV-Datei."));
        }

        var imported = await tenant.ExecuteAsync(InsertSql, new { tenant.ClinicId }, ct);
        var skipped = staged + repeated - imported;
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

    /// <summary>
    /// Streams the good rows into the staging table. Within the file the first row of a document id,
    /// and the first row of a phone + name (case-folded), wins: a later row that repeats either key of
    /// any earlier good row is counted, not staged (sets here, instead of two sorts of the whole
    /// staging table in the database).
    /// </summary>
    private static async Task<(int Staged, int Repeated, int Errors)> StageAsync(
        Tenant tenant, CsvDataReader csv, int[] ordinals, string country, List<RowError> errors, CancellationToken ct)
    {
        var staged = 0;
        var repeated = 0;
        var errorCount = 0;
        var row = 1;
        var documents = new HashSet<string>(StringComparer.Ordinal);
        var phoneNames = new HashSet<(string Phone, string Name)>();
        var batch = new List<(int Row, string?[] Fields)>(ParseBatch);
        var parsed = new (Row? Row, Text? Error)[ParseBatch];
        await using var copy = await (await tenant.ConnectionAsync(ct)).BeginBinaryImportAsync(CopySql, ct);

        // Rows are checked a batch at a time on every core (phone numbers are most of the work, and
        // PostgreSQL only waits for rows meanwhile), then counted and written in file order.
        async Task WriteBatchAsync()
        {
            Parallel.For(0, batch.Count, i => parsed[i] = Parse(batch[i].Fields, country));
            for (var i = 0; i < batch.Count; i++)
            {
                var (patient, message) = parsed[i];
                if (patient is null)
                {
                    if (errorCount++ < MaxErrors)
                    {
                        errors.Add(new RowError(batch[i].Row, message!.Current));
                    }

                    continue;
                }

                // Both keys are remembered whether or not this row is kept, as a rank over the file would.
                if ((patient.DocumentId is { } document && !documents.Add(document))
                    | (patient.Phone is { } phone && !phoneNames.Add((phone, patient.FullName.ToLowerInvariant()))))
                {
                    repeated++;
                    continue;
                }

                await copy.StartRowAsync(ct);
                await copy.WriteAsync(batch[i].Row, NpgsqlDbType.Integer, ct);
                await copy.WriteAsync(Guid.CreateVersion7(), NpgsqlDbType.Uuid, ct);
                await copy.WriteAsync(patient.FullName, NpgsqlDbType.Text, ct);
                await WriteAsync(copy, patient.Phone, NpgsqlDbType.Text, ct);
                await WriteAsync(copy, patient.Email, NpgsqlDbType.Text, ct);
                await WriteAsync(copy, patient.BirthDate, NpgsqlDbType.Date, ct);
                await WriteAsync(copy, patient.DocumentId, NpgsqlDbType.Text, ct);
                await WriteAsync(copy, patient.Notes, NpgsqlDbType.Text, ct);
                staged++;
            }

            batch.Clear();
        }

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

            batch.Add((row, fields));
            if (batch.Count == ParseBatch)
            {
                await WriteBatchAsync();
            }
        }

        await WriteBatchAsync();
        await copy.CompleteAsync(ct);
        return (staged, repeated, errorCount);
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
