using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Patients;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Patients;

/// <summary>POST /api/patients/import (<see cref="ImportPatients"/>).</summary>
public sealed class ImportPatientsTests(AppFixture app) : ApiTest(app)
{
    [Fact]
    public async Task Imports_good_rows_reports_bad_ones_and_skips_duplicates()
    {
        var admin = await RegisterClinicAsync();
        await App.ExecuteAsync("""
            insert into patients (id, clinic_id, full_name, phone, document_id)
            values (gen_random_uuid(), @ClinicId, 'Existing Person', '+5491122334499', null),
                   (gen_random_uuid(), @ClinicId, 'Other Person', null, 'DOC-DB')
            """, new { admin.ClinicId });
        const string csv = """
            fullName,phone,email,birthDate,documentId,notes,extra
            Ana García,+5491122334401,ana@example.com,1990-05-01,DOC-1,first,x
            ,+5491122334402,,,,,
            Bruno Díaz,not a phone,,,,,
            Carla Ruiz,,carla-at-example,,,,
            Dario Sosa,,,1990-13-01,,,
            Eva Paz,+5491122334403,,,DOC-1,,
            ana garcía,+5491122334401,,,,,
            EXISTING person,+5491122334499,,,,,
            Fede Gil,,,,DOC-DB,,
            Gina Ro,11 2233-4405,gina@example.com,2001-02-03,DOC-2,"notes, with comma",
            Hugo Sol,,,,,,
            ,,,,,,

            """;

        var result = await ImportAsync(admin, csv.Replace("\n", "\r\n", StringComparison.Ordinal));

        var body = await result.ReadAsJsonAsync<ImportPatients.Response>();
        Assert.Equal(3, body.Imported);
        Assert.Equal(4, body.Skipped);
        Assert.Equal(4, body.ErrorCount);
        Assert.False(body.ErrorsTruncated);
        Assert.Equal([3, 4, 5, 6], body.Errors.Select(e => e.Row));
        Assert.Contains("fullName", body.Errors[0].Message, StringComparison.Ordinal);
        Assert.Contains("phone", body.Errors[1].Message, StringComparison.Ordinal);
        Assert.Contains("email", body.Errors[2].Message, StringComparison.Ordinal);
        Assert.Contains("birthDate", body.Errors[3].Message, StringComparison.Ordinal);

        var rows = await App.QueryAsync<(string FullName, string? Phone, string? Email, string? BirthDate, string? DocumentId, string? Notes)>("""
            select full_name, phone, email::text, birth_date::text, document_id, notes
            from patients where clinic_id = @ClinicId order by full_name
            """, new { admin.ClinicId });
        Assert.Equal(
        [
            ("Ana García", "+5491122334401", "ana@example.com", "1990-05-01", "DOC-1", "first"),
            ("Existing Person", "+5491122334499", null, null, null, null),
            ("Gina Ro", "+541122334405", "gina@example.com", "2001-02-03", "DOC-2", "notes, with comma"),
            ("Hugo Sol", null, null, null, null, null),
            ("Other Person", null, null, null, "DOC-DB", null),
        ], rows);

        var audit = await LastAuditAsync(admin.ClinicId!.Value, "patient.import");
        Assert.Equal(admin.UserId, audit!.ActorId);
        Assert.Contains("\"imported\": 3", audit.Changes, StringComparison.Ordinal);
        Assert.Contains("\"skipped\": 4", audit.Changes, StringComparison.Ordinal);
        Assert.Contains("\"errors\": 4", audit.Changes, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reads_semicolons_a_bom_and_quoted_fields_with_delimiters_and_newlines()
    {
        var admin = await RegisterClinicAsync(country: "ES");
        const string csv = "NOTES;FullName;Phone;BirthDate\r\n\"line one\nline two; still notes\";\"Núñez; José\";612 345 678;1980-01-31\r\n;\"Lía \"\"La\"\" Sol\";;\r\n";

        var result = await ImportAsync(admin, csv, bom: true);

        var body = await result.ReadAsJsonAsync<ImportPatients.Response>();
        Assert.Equal(2, body.Imported);
        Assert.Empty(body.Errors);
        var rows = await App.QueryAsync<(string FullName, string? Phone, string? BirthDate, string? Notes)>("""
            select full_name, phone, birth_date::text, notes from patients where clinic_id = @ClinicId order by full_name
            """, new { admin.ClinicId });
        Assert.Equal(
        [
            ("Lía \"La\" Sol", null, null, null),
            ("Núñez; José", "+34612345678", "1980-01-31", "line one\nline two; still notes"),
        ], rows);
    }

    [Fact]
    public async Task Another_clinics_patients_are_no_duplicates()
    {
        var other = await RegisterClinicAsync();
        var admin = await RegisterClinicAsync();
        await App.ExecuteAsync("""
            insert into patients (id, clinic_id, full_name, phone, document_id)
            values (gen_random_uuid(), @ClinicId, 'Ana García', '+5491122334401', 'DOC-SHARED')
            """, new { other.ClinicId });

        var body = await (await ImportAsync(admin, """
            fullName,phone,documentId
            Ana García,+5491122334401,DOC-SHARED
            """)).ReadAsJsonAsync<ImportPatients.Response>();

        Assert.Equal(1, body.Imported);
        Assert.Equal(0, body.Skipped);
        Assert.Equal(1, await App.ScalarAsync<int>(
            "select count(*)::int from patients where clinic_id = @ClinicId and document_id = 'DOC-SHARED'", new { admin.ClinicId }));
    }

    [Fact]
    public async Task Caps_the_error_list()
    {
        var admin = await RegisterClinicAsync();
        var csv = new StringBuilder("fullName,birthDate\n");
        for (var i = 0; i < ImportPatients.MaxErrors + 5; i++)
        {
            csv.Append("Bad Date,31.12.1990\n");
        }

        var body = await (await ImportAsync(admin, csv.ToString())).ReadAsJsonAsync<ImportPatients.Response>();

        Assert.Equal(ImportPatients.MaxErrors, body.Errors.Count);
        Assert.Equal(ImportPatients.MaxErrors + 5, body.ErrorCount);
        Assert.True(body.ErrorsTruncated);
        Assert.Equal(0, body.Imported);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s =>
        {
            s.Post.MultipartFormData(FileContent("fullName\nAna\n"u8.ToArray())).ToUrl("/api/patients/import");
        });
    }

    [Theory]
    [InlineData("doctor")]
    [InlineData("staff")]
    public async Task Refuses_non_admins(string role)
    {
        var admin = await RegisterClinicAsync();
        var member = await AddUserAsync(admin, role);

        var result = await ImportAsync(member, "fullName\nAna\n", HttpStatusCode.Forbidden);

        await ErrorAsync(result, ErrorCodes.Forbidden);
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from patients where clinic_id = @ClinicId", new { admin.ClinicId }));
    }

    [Fact]
    public async Task Rejects_a_file_without_a_full_name_column()
    {
        var admin = await RegisterClinicAsync();

        var result = await ImportAsync(admin, "name,phone\nAna,\n", HttpStatusCode.BadRequest);

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Contains("file", error.Details!.Keys);
    }

    [Fact]
    public async Task Rejects_a_request_without_a_file_part()
    {
        var admin = await RegisterClinicAsync();
        var content = new MultipartFormDataContent { { new StringContent("x"), "comment" } };

        await AssertInvalidAsync("file", s =>
        {
            s.Post.MultipartFormData(content).ToUrl("/api/patients/import");
            s.WithBearerToken(admin.Token);
        });
    }

    [Fact]
    public async Task Checks_repeats_across_batches_and_a_bad_file_late_in_the_upload_writes_nothing()
    {
        var admin = await RegisterClinicAsync();
        await App.ExecuteAsync("""
            insert into patients (id, clinic_id, full_name, phone, document_id)
            values (gen_random_uuid(), @ClinicId, 'Late Existing', '+5491100000000', 'DOC-LATE')
            """, new { admin.ClinicId });

        // 17 000 rows go in three batches: repeats of rows of earlier batches, and of the clinic's patient, late in the file.
        var csv = new StringBuilder("fullName,phone,documentId\n");
        for (var i = 1; i <= 17_000; i++)
        {
            csv.Append(CultureInfo.InvariantCulture, $"Person {i},+54911{i + 10_000_000:D8},DOC-{i}\n");
        }

        csv.Append("Another Name,,DOC-5\n");                 // document id of row 6 (first batch)
        csv.Append("person 9000,+5491110009000,\n");          // phone + name of row 9001 (second batch), case-folded
        csv.Append("Late Existing,+5491100000000,\n");        // the clinic's patient by phone + name
        csv.Append("Someone Else,,DOC-LATE\n");               // the clinic's patient by document id
        var body = await (await ImportAsync(admin, csv.ToString())).ReadAsJsonAsync<ImportPatients.Response>();

        Assert.Equal((17_000, 4, 0), (body.Imported, body.Skipped, body.ErrorCount));
        Assert.Equal(17_001, await App.ScalarAsync<int>("select count(*)::int from patients where clinic_id = @ClinicId", new { admin.ClinicId }));
        Assert.Equal(1, await App.ScalarAsync<int>(
            "select count(*)::int from patients where clinic_id = @ClinicId and document_id = 'DOC-5'", new { admin.ClinicId }));

        // A file that turns unreadable after a batch was inserted: nothing of it stays.
        var other = await RegisterClinicAsync();
        var broken = new StringBuilder("fullName,phone\n");
        for (var i = 1; i <= 9000; i++)
        {
            broken.Append(CultureInfo.InvariantCulture, $"Person {i},\n");
        }

        broken.Append("\"never closed,\n");
        var result = await ImportAsync(other, broken.ToString(), HttpStatusCode.BadRequest);
        await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from patients where clinic_id = @ClinicId", new { other.ClinicId }));
    }

    [Fact]
    public async Task Refuses_a_body_that_is_not_multipart()
    {
        var admin = await RegisterClinicAsync();

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new { fullName = "Ana" }).ToUrl("/api/patients/import");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.UnsupportedMediaType);
        });

        await ErrorAsync(result, ErrorCodes.UnsupportedMediaType);
    }

    private Task<IScenarioResult> ImportAsync(Account account, string csv, HttpStatusCode expected = HttpStatusCode.OK, bool bom = false)
    {
        var bytes = (bom ? Encoding.UTF8.GetPreamble() : []).Concat(Encoding.UTF8.GetBytes(csv)).ToArray();
        return Host.Scenario(s =>
        {
            s.Post.MultipartFormData(FileContent(bytes)).ToUrl("/api/patients/import");
            s.WithBearerToken(account.Token);
            s.StatusCodeShouldBe(expected);
        });
    }

    internal static MultipartFormDataContent FileContent(byte[] bytes)
    {
        var file = new ByteArrayContent(bytes);
        file.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
        return new MultipartFormDataContent { { file, "file", "patients.csv" } };
    }
}
