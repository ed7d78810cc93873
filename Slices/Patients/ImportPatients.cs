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
/// is streamed from the request body through the CSV reader and checked a batch at a time; each batch
/// of good rows goes in with one set-based insert (arrays), which PostgreSQL runs while the next batch
/// is checked, so memory stays flat whatever the file's size and the app and the database work at
/// the same time. A row is added when
/// it duplicates neither an existing patient nor an earlier row of the file. Bad rows are reported,
/// never fatal; the whole import is one transaction.
/// </summary>
public sealed class ImportPatients : ICarterModule
{
    public const int MaxErrors = 1000;

    public const long MaxFileBytes = 50L * 1024 * 1024;

    private const int ParseBatch = 8192;

    // The clinic's phone + name keys, read once: a row that repeats one is skipped like a repeat
    // within the file (ImportAsync), so the insert needs no lookup per row, and no plan that the
    // statistics of a table growing under the import could turn into a scan per row.
    private const string KeysSql = """
        select phone, full_name
        from patients
        where clinic_id = @ClinicId and phone is not null and erased_at is null
        """;

    // One batch of good rows, as arrays. Rows that repeat an earlier row of the file or the clinic's
    // phone + name never get here. The document id is checked through its unique index: the conflict
    // target names that index alone, so the other unique indexes are not probed before each insert
    // (ids are new, and an import sets no lookup hash).
    private const string InsertSql = """
        insert into patients (id, clinic_id, full_name, phone, email, birth_date, document_id, notes)
        select s.id, @ClinicId, s.full_name, s.phone, s.email, s.birth_date, s.document_id, s.notes
        from unnest(@Ids, @Names, @Phones, @Emails, @Births, @Documents, @Notes)
             as s(id, full_name, phone, email, birth_date, document_id, notes)
        on conflict (clinic_id, document_id) where document_id is not null do nothing
        """;

    private static readonly string[] Columns = ["fullName", "phone", "email", "birthDate", "documentId", "notes"];

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/patients")
            .MapPost("/import", Handle)
            .RequireAdmin()
            .WithMetadata(new Microsoft.AspNetCore.Mvc.RequestSizeLimitAttribute(MaxFileBytes))
            .UsesLargePool()
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

        var country = await tenant.CountryAsync(ct) ?? "ZZ";

        var errors = new List<RowError>();
        var errorCount = 0;
        int good;
        int repeated;
        int imported;
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
            (good, repeated, imported, errorCount) = await ImportAsync(tenant, csv, ordinals, country, errors, ct);
        }
        catch (Exception e) when (e is InvalidDataException or CsvFormatException or CsvRecordTooLargeException
            || (e is IOException and not BadHttpRequestException && !ct.IsCancellationRequested))
        {
            return ApiProblem.Validation("file", new(
                "The file is not a readable CSV upload.", "El archivo no es un CSV legible.", "Die Datei ist keine lesbare CSV-Datei."));
        }

        var skipped = good + repeated - imported;
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
    /// Checks the rows a batch at a time and inserts each batch's good rows while the next is parsed.
    /// Within the file the first row of a document id, and the first row of a phone + name
    /// (case-folded), wins: a later row that repeats either key of any earlier good row is counted,
    /// not inserted (sets here, instead of sorts of the whole file in the database); so is a row with
    /// the phone + name of one of the clinic's patients.
    /// </summary>
    private static async Task<(int Good, int Repeated, int Imported, int Errors)> ImportAsync(
        Tenant tenant, CsvDataReader csv, int[] ordinals, string country, List<RowError> errors, CancellationToken ct)
    {
        var good = 0;
        var repeated = 0;
        var imported = 0;
        var errorCount = 0;
        var row = 1;
        var documents = new HashSet<string>(StringComparer.Ordinal);
        var phoneNames = new HashSet<(string Phone, string Name)>();
        foreach (var (phone, name) in await tenant.QueryAsync<(string Phone, string Name)>(KeysSql, new { tenant.ClinicId }, ct))
        {
            phoneNames.Add((phone, name.ToLowerInvariant()));
        }

        var batch = new List<(int Row, string?[] Fields)>(ParseBatch);
        var parsed = new (Row? Row, Text? Error)[ParseBatch];
        var connection = await tenant.ConnectionAsync(ct);
        Task<int>? inserting = null;

        // Rows are checked a batch at a time, in file order, on one core while PostgreSQL inserts the
        // previous batch on the other (checking a batch takes about a third of inserting it; checking
        // on every core only took CPU from the insert). Large batches: fewer pauses between inserts.
        async Task CheckBatchAsync()
        {
            for (var i = 0; i < batch.Count; i++)
            {
                parsed[i] = Parse(batch[i].Fields, country);
            }

            var rows = new List<Row>(batch.Count);
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

                rows.Add(patient);
            }

            batch.Clear();
            good += rows.Count;

            // The next statement is built before the previous one has answered, and sent at once.
            var next = rows.Count > 0 ? Insert(connection, tenant.Transaction, tenant.ClinicId, rows) : null;
            if (inserting is not null)
            {
                imported += await inserting;
                inserting = null;
            }

            if (next is not null)
            {
                inserting = RunAsync(next, ct);
            }
        }

        try
        {
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
                    await CheckBatchAsync();
                }
            }

            await CheckBatchAsync();
            if (inserting is not null)
            {
                imported += await inserting;
                inserting = null;
            }
        }
        finally
        {
            // A bad upload stops the reading while a batch is in PostgreSQL: the connection is free
            // again only once that statement has answered (the request then fails and rolls back).
            if (inserting is not null)
            {
                try
                {
                    await inserting;
                }
                catch (Exception e) when (e is NpgsqlException or OperationCanceledException)
                {
                    // The request fails with the first error anyway.
                }
            }
        }

        return (good, repeated, imported, errorCount);
    }

    // Returns once the statement is sent; the task completes with PostgreSQL's answer.
    private static async Task<int> RunAsync(NpgsqlCommand command, CancellationToken ct)
    {
        await using (command)
        {
            return await command.ExecuteNonQueryAsync(ct);
        }
    }

    private static NpgsqlCommand Insert(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid clinicId, List<Row> rows)
    {
        var command = new NpgsqlCommand(InsertSql, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter<Guid>("ClinicId", clinicId));
        command.Parameters.Add(new NpgsqlParameter<Guid[]>("Ids", [.. rows.Select(_ => Guid.CreateVersion7())]));
        command.Parameters.Add(new NpgsqlParameter<string[]>("Names", [.. rows.Select(r => r.FullName)]));
        command.Parameters.Add(new NpgsqlParameter<string?[]>("Phones", [.. rows.Select(r => r.Phone)]) { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<string?[]>("Emails", [.. rows.Select(r => r.Email)]) { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<DateOnly?[]>("Births", [.. rows.Select(r => r.BirthDate)]) { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Date });
        command.Parameters.Add(new NpgsqlParameter<string?[]>("Documents", [.. rows.Select(r => r.DocumentId)]) { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<string?[]>("Notes", [.. rows.Select(r => r.Notes)]) { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        return command;
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
