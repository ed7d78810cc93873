using System.Net;
using System.Text;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Patients;
using ClinicFlow.Tests.Patients;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Platform;

/// <summary>
/// Text no field can hold (NUL, other control characters, broken surrogates) is a 400 naming the
/// field on every input channel — never the database's 500 (<see cref="InputSafety"/>).
/// </summary>
public sealed class InputSafetyTests(AppFixture app) : ApiTest(app)
{
    [Theory]
    [InlineData("a\\u0000b")]
    [InlineData("a\\u0007b")]
    public async Task Refuses_unsafe_text_in_a_json_body_and_names_the_field(string escaped)
    {
        var admin = await RegisterClinicAsync();

        var result = await Host.Scenario(s =>
        {
            s.Post.Text($$"""{ "fullName": "{{escaped}}" }""").ToUrl("/api/patients");
            s.WithRequestHeader("Content-Type", "application/json");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.BadRequest);
        });

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Equal(["fullName"], error.Details!.Keys);
        Assert.Equal(0, await App.ScalarAsync<long>("select count(*) from patients where clinic_id = @ClinicId", new { admin.ClinicId }));
    }

    [Fact]
    public async Task Refuses_a_broken_surrogate_escape_as_invalid_json()
    {
        var admin = await RegisterClinicAsync();

        var result = await Host.Scenario(s =>
        {
            s.Post.Text("""{ "fullName": "a\ud800b" }""").ToUrl("/api/patients");
            s.WithRequestHeader("Content-Type", "application/json");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.BadRequest);
        });

        await ErrorAsync(result, ErrorCodes.InvalidJson);
        Assert.Equal(0, await App.ScalarAsync<long>("select count(*) from patients where clinic_id = @ClinicId", new { admin.ClinicId }));
    }

    [Fact]
    public async Task Keeps_tabs_and_line_breaks_in_text()
    {
        var admin = await RegisterClinicAsync();

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new { fullName = "Ana Paz", notes = "line one\r\n\tline two" }).ToUrl("/api/patients");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });

        var created = await result.ReadAsJsonAsync<RegisterPatient.Response>();
        Assert.Equal("line one\r\n\tline two", await App.ScalarAsync<string>("select notes from patients where id = @Id", new { created.Id }));
    }

    [Fact]
    public async Task Refuses_nul_in_a_public_body()
    {
        var result = await Host.Scenario(s =>
        {
            s.Post.Text("""{ "email": "a\u0000@b.c", "password": "whatever-long" }""").ToUrl("/api/auth/login");
            s.WithRequestHeader("Content-Type", "application/json");
            s.StatusCodeShouldBe(HttpStatusCode.BadRequest);
        });

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Contains("email", error.Details!.Keys);
    }

    [Fact]
    public async Task Refuses_nul_in_a_nested_json_string_with_its_path()
    {
        var admin = await RegisterClinicAsync();
        var patient = await Host.Scenario(s =>
        {
            s.Post.Json(new { fullName = "Ana Paz" }).ToUrl("/api/patients");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        var id = (await patient.ReadAsJsonAsync<RegisterPatient.Response>()).Id;

        var result = await Host.Scenario(s =>
        {
            s.Post.Text("""{ "reason": "x\u0000" }""").ToUrl($"/api/patients/{id}/block");
            s.WithRequestHeader("Content-Type", "application/json");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.BadRequest);
        });

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Equal(["reason"], error.Details!.Keys);
        Assert.False(await App.ScalarAsync<bool>("select blocked from patients where id = @id", new { id }));
    }

    [Theory]
    [InlineData("/api/patients?q=a%00b", "q")]
    [InlineData("/api/audit?action=a%00b", "action")]
    [InlineData("/api/audit/export?entityType=%01", "entityType")]
    public async Task Refuses_unsafe_text_in_a_query_value_and_names_it(string url, string field)
    {
        var admin = await RegisterClinicAsync();

        var result = await Host.Scenario(s =>
        {
            s.Get.Url(url);
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.BadRequest);
        });

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Equal([field], error.Details!.Keys);
    }

    [Fact]
    public async Task Reports_an_import_row_with_nul_as_an_error_row_and_keeps_the_good_ones()
    {
        var admin = await RegisterClinicAsync();
        var csv = Encoding.UTF8.GetBytes("fullName,notes\r\nAna Paz,fine\r\nBad\u0000Row,x\r\n");

        var result = await Host.Scenario(s =>
        {
            s.Post.MultipartFormData(ImportPatientsTests.FileContent(csv)).ToUrl("/api/patients/import");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var body = await result.ReadAsJsonAsync<ImportPatients.Response>();
        Assert.Equal(1, body.Imported);
        Assert.Equal([3], body.Errors.Select(e => e.Row));
        Assert.Equal(["Ana Paz"], await App.QueryAsync<string>("select full_name from patients where clinic_id = @ClinicId", new { admin.ClinicId }));
    }

    [Fact]
    public void Tells_safe_from_unsafe_text()
    {
        Assert.False(InputSafety.IsUnsafe("José Núñez 😀\t\r\n"));
        Assert.True(InputSafety.IsUnsafe("a\0"));
        Assert.True(InputSafety.IsUnsafe("\u001f"));
        Assert.True(InputSafety.IsUnsafe("x\uDC00"));
        Assert.True(InputSafety.IsUnsafe("\uD83D"));
    }
}
