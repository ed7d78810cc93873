using System.Net;
using System.Text;
using ClinicFlow.Slices.Patients;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Patients;

/// <summary>GET /api/patients/export (<see cref="ExportPatients"/>).</summary>
public sealed class ExportPatientsTests(AppFixture app) : ApiTest(app)
{
    private const string Columns = "full_name, phone, email::text, birth_date::text, document_id, notes";

    [Fact]
    public async Task Exports_the_clinics_patients_and_imports_again_into_another_clinic()
    {
        var admin = await RegisterClinicAsync();
        await ImportAsync(admin, """"
            fullName,phone,email,birthDate,documentId,notes
            Ana García,+5491122334401,ana@example.com,1990-05-01,DOC-1,"two
            lines, and ""quotes"""
            Bruno Díaz,,,,,
            Carla Ruiz;Sol,1122334405,,2001-02-03,DOC-2,x
            Erased Soon,,,,,
            """");
        await App.ExecuteAsync("update patients set erased_at = now() where clinic_id = @ClinicId and full_name = 'Erased Soon'", new { admin.ClinicId });
        var stranger = await RegisterClinicAsync();
        await ImportAsync(stranger, "fullName\nNot Mine\n");

        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/patients/export");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        Assert.Equal("text/csv; charset=utf-8", result.Context.Response.ContentType);
        Assert.Equal($"attachment; filename=\"patients-{DateTime.UtcNow:yyyyMMdd}.csv\"", result.Context.Response.Headers.ContentDisposition.ToString());
        var csv = await result.ReadAsTextAsync();
        Assert.StartsWith("fullName,phone,email,birthDate,documentId,notes\r\n", csv, StringComparison.Ordinal);
        Assert.DoesNotContain("Not Mine", csv, StringComparison.Ordinal);
        Assert.DoesNotContain("Erased Soon", csv, StringComparison.Ordinal);

        var copy = await RegisterClinicAsync();
        var imported = await ImportAsync(copy, csv);
        Assert.Equal(3, imported.Imported);
        Assert.Empty(imported.Errors);
        var original = await App.QueryAsync<(string, string?, string?, string?, string?, string?)>(
            $"select {Columns} from patients where clinic_id = @ClinicId and erased_at is null order by full_name", new { admin.ClinicId });
        var copied = await App.QueryAsync<(string, string?, string?, string?, string?, string?)>(
            $"select {Columns} from patients where clinic_id = @ClinicId order by full_name", new { copy.ClinicId });
        Assert.Equal(original, copied);
        Assert.Equal(3, copied.Count);
    }

    [Fact]
    public async Task Neutralises_cells_a_spreadsheet_would_run_as_formulas()
    {
        var admin = await RegisterClinicAsync();
        await App.ExecuteAsync("""
            insert into patients (id, clinic_id, full_name, phone, notes)
            values (gen_random_uuid(), @ClinicId, '=HYPERLINK("http://x")', '+5491122334401', '@SUM(A1)')
            """, new { admin.ClinicId });

        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/patients/export");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var lines = (await result.ReadAsTextAsync()).Split("\r\n");
        Assert.Equal("\"'=HYPERLINK(\"\"http://x\"\")\",+5491122334401,,,,'@SUM(A1)", lines[1]);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s =>
        {
            s.Get.Url("/api/patients/export");
        });
    }

    [Theory]
    [InlineData("doctor")]
    [InlineData("staff")]
    public async Task Refuses_non_admins(string role)
    {
        await AssertRefusedForRoleAsync(role, s =>
        {
            s.Get.Url("/api/patients/export");
        });
    }

    private async Task<ImportPatients.Response> ImportAsync(Account admin, string csv)
    {
        var result = await Host.Scenario(s =>
        {
            s.Post.MultipartFormData(ImportPatientsTests.FileContent(Encoding.UTF8.GetBytes(csv))).ToUrl("/api/patients/import");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        return await result.ReadAsJsonAsync<ImportPatients.Response>();
    }
}
