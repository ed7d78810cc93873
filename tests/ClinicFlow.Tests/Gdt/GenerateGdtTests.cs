using System.Globalization;
using System.Net;
using System.Text;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Gdt;
using ClinicFlow.Tests.Consent;
using ClinicFlow.Tests.Patients;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Gdt;

/// <summary>POST /api/gdt/generate (<see cref="ClinicFlow.Slices.Gdt.GenerateGdt"/>): a GDT 2.1 record 6310 parsed back byte by byte.</summary>
public sealed class GenerateGdtTests(AppFixture app) : ApiTest(app)
{
    private static readonly Encoding Latin1 = Encoding.Latin1;
    private static readonly Encoding Cp437 = CodePagesEncodingProvider.Instance.GetEncoding(437)!;

    [Fact]
    public async Task Writes_a_6310_record_in_iso_8859_1_whose_lengths_add_up_line_by_line()
    {
        var (admin, key, form) = await SubmittedFormAsync("Aufklärung Füllungstherapie");

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new
            {
                consentId = form,
                patient = new { number = "4711", lastName = "Müller", firstName = "Jürgen", birthDate = "1970-02-03", gender = "male" },
            }).ToUrl("/api/gdt/generate");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
            s.ContentTypeShouldBe("application/octet-stream");
        });

        Assert.EndsWith(".gdt", result.Context.Response.Headers.ContentDisposition.ToString().Trim('"'), StringComparison.Ordinal);
        var bytes = await BytesAsync(result);
        var lines = Parse(bytes);
        Assert.Equal(["8000", "8100", "8315", "8316", "9206", "9218", "3000", "3101", "3102", "3103", "3110", "6200", "6201"],
            lines.Take(13).Select(l => l.Field));
        Assert.Equal("6310", Value(lines, "8000", Latin1));
        Assert.Equal(bytes.Length.ToString("D5", CultureInfo.InvariantCulture), Value(lines, "8100", Latin1));
        Assert.Equal("PVS01", Value(lines, "8315", Latin1));
        Assert.Equal("CFLOW1", Value(lines, "8316", Latin1));
        Assert.Equal("3", Value(lines, "9206", Latin1));
        Assert.Equal("02.10", Value(lines, "9218", Latin1));
        Assert.Equal("4711", Value(lines, "3000", Latin1));
        Assert.Equal([0x4D, 0xFC, 0x6C, 0x6C, 0x65, 0x72], lines.Single(l => l.Field == "3101").Content);
        Assert.Equal("Jürgen", Value(lines, "3102", Latin1));
        Assert.Equal("03021970", Value(lines, "3103", Latin1));
        Assert.Equal("1", Value(lines, "3110", Latin1));
        var zone = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");
        var submitted = TimeZoneInfo.ConvertTime(await App.ScalarAsync<DateTimeOffset>("select submitted_at from consent_forms where id = @form", new { form }), zone);
        Assert.Equal(submitted.ToString("ddMMyyyy", CultureInfo.InvariantCulture), Value(lines, "6200", Latin1));
        Assert.Equal(submitted.ToString("HHmmss", CultureInfo.InvariantCulture), Value(lines, "6201", Latin1));
        var results = lines.Where(l => l.Field == "6220").Select(l => Latin1.GetString(l.Content)).ToList();
        Assert.Equal(["Einwilligung: treatment", "Titel: Aufklärung Füllungstherapie", "Status: unterschrieben"], results);
        Assert.Equal($"Übermittelt am {submitted.ToString("dd.MM.yyyy HH:mm:ss", CultureInfo.InvariantCulture)}", Value(lines, "6227", Latin1));
        Assert.Contains((byte)0xDC, lines.Single(l => l.Field == "6227").Content);
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "consent.gdt_export");
        Assert.Equal(form.ToString(), audit!.EntityId);
        key.Dispose();
    }

    [Fact]
    public async Task Writes_umlauts_as_cp437_bytes_on_request()
    {
        var (admin, key, form) = await SubmittedFormAsync("Größe");

        var bytes = await GenerateAsync(admin, new { consentId = form, charset = 2, patient = new { number = "12", lastName = "Müßig", firstName = "Ärzte" } });

        var lines = Parse(bytes);
        Assert.Equal("2", Value(lines, "9206", Cp437));
        Assert.Equal([0x4D, 0x81, 0xE1, 0x69, 0x67], lines.Single(l => l.Field == "3101").Content);
        Assert.Equal((byte)0x8E, lines.Single(l => l.Field == "3102").Content[0]);
        Assert.Equal("Titel: Größe", Cp437.GetString(lines.Where(l => l.Field == "6220").ElementAt(1).Content));
        Assert.Contains((byte)0x94, lines.Where(l => l.Field == "6220").ElementAt(1).Content);
        Assert.Equal((byte)0x9A, lines.Single(l => l.Field == "6227").Content[0]);
        Assert.Equal(bytes.Length.ToString("D5", CultureInfo.InvariantCulture), Value(lines, "8100", Cp437));
        key.Dispose();
    }

    [Theory]
    [InlineData(3)]
    [InlineData(2)]
    public async Task Transliterates_what_the_charset_cannot_hold_instead_of_dropping_it(int charset)
    {
        var (admin, key, form) = await SubmittedFormAsync("Prophylaxe 80 € – Łódź „Ørsted“ œ");

        var bytes = await GenerateAsync(admin, new { consentId = form, charset, patient = new { number = "12", lastName = "Wałęsa", firstName = "Ścibor" } });

        var encoding = charset == 2 ? Cp437 : Latin1;
        var lines = Parse(bytes);
        Assert.Equal("Walesa", Value(lines, "3101", encoding));
        Assert.Equal("Scibor", Value(lines, "3102", encoding));
        var title = encoding.GetString(lines.Where(l => l.Field == "6220").ElementAt(1).Content);
        Assert.Equal(charset == 2 ? "Titel: Prophylaxe 80 EUR - Lódz \"Orsted\" oe" : "Titel: Prophylaxe 80 EUR - Lódz \"Ørsted\" oe", title);
        Assert.DoesNotContain((byte)'?', bytes);
        key.Dispose();
    }

    [Fact]
    public async Task Uses_the_stored_patient_when_the_body_names_only_the_number_and_wraps_long_text_without_line_breaks()
    {
        var longTitle = "Einwilligung in die umfassende prothetische Versorgung mit\r\nImplantaten im Ober- und Unterkiefer einschließlich Knochenaufbau";
        var (admin, key, form) = await SubmittedFormAsync(longTitle);

        var bytes = await GenerateAsync(admin, new { consentId = form, patient = new { number = "99" } });

        var lines = Parse(bytes);
        Assert.Equal("Müller-Lüdenscheidt", Value(lines, "3101", Latin1));
        Assert.Equal("Jürgen", Value(lines, "3102", Latin1));
        Assert.Equal("03021970", Value(lines, "3103", Latin1));
        var texts = lines.Where(l => l.Field == "6220").Select(l => Latin1.GetString(l.Content)).ToList();
        Assert.True(texts.Count > 3);
        Assert.All(lines, l => Assert.True(l.Content.Length <= 60));
        Assert.Equal(Collapse("Titel: " + longTitle), Collapse(string.Join(' ', texts.Skip(1).Take(texts.Count - 2))));
        key.Dispose();
    }

    [Fact]
    public async Task Rejects_missing_number_sender_and_a_bad_charset_with_details()
    {
        var admin = await RegisterClinicAsync();
        using var key = PracticeKey.NewEc();
        var (_, form) = await Host.PatientWithFormAsync(admin, key);

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new { consentId = form.Id, charset = 5 }).ToUrl("/api/gdt/generate");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.BadRequest);
        });
        Assert.Contains("charset", (await ErrorAsync(result, ErrorCodes.ValidationError)).Details!.Keys);

        var missing = await AssertInvalidAsync("patient.number", s =>
        {
            s.Post.Json(new { consentId = form.Id }).ToUrl("/api/gdt/generate");
            s.WithBearerToken(admin.Token);
        });
        Assert.Contains("receiverId", missing.Details!.Keys);
        Assert.Contains("senderId", missing.Details.Keys);
    }

    [Fact]
    public async Task Answers_404_for_another_clinics_consent()
    {
        var (_, key, form) = await SubmittedFormAsync("T");
        var other = await RegisterClinicAsync();

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new { consentId = form, receiverId = "A", senderId = "B", patient = new { number = "1" } }).ToUrl("/api/gdt/generate");
            s.WithBearerToken(other.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });

        await ErrorAsync(result, ErrorCodes.NotFound);
        Assert.Null(await LastAuditAsync(other.ClinicId!.Value, "consent.gdt_export"));
        key.Dispose();
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Post.Json(new { consentId = Guid.NewGuid() }).ToUrl("/api/gdt/generate"));
    }

    [Fact]
    public async Task Refuses_reception_staff()
    {
        await AssertRefusedForRoleAsync("staff", s => s.Post.Json(new { consentId = Guid.NewGuid() }).ToUrl("/api/gdt/generate"));
    }

    private static string Collapse(string text) => System.Text.RegularExpressions.Regex.Replace(text, @"\s+", " ");

    private sealed record Line(int Declared, int Actual, string Field, byte[] Content);

    /// <summary>Reads a GDT file back line by line, checking each line's LLL against its bytes.</summary>
    private static List<Line> Parse(byte[] bytes)
    {
        var lines = new List<Line>();
        var start = 0;
        while (start < bytes.Length)
        {
            var end = Array.IndexOf(bytes, (byte)'\n', start);
            Assert.True(end > start, "every line ends with CRLF");
            Assert.Equal((byte)'\r', bytes[end - 1]);
            var line = bytes[start..(end + 1)];
            var declared = int.Parse(Encoding.ASCII.GetString(line, 0, 3), CultureInfo.InvariantCulture);
            Assert.Equal(line.Length, declared);
            lines.Add(new Line(declared, line.Length, Encoding.ASCII.GetString(line, 3, 4), line[7..^2]));
            Assert.DoesNotContain((byte)'\r', line[7..^2]);
            start = end + 1;
        }

        Assert.Equal(bytes.Length, lines.Sum(l => l.Actual));
        return lines;
    }

    private static string Value(List<Line> lines, string field, Encoding encoding) => encoding.GetString(lines.Single(l => l.Field == field).Content);

    private async Task<byte[]> GenerateAsync(Account admin, object body)
    {
        var result = await Host.Scenario(s =>
        {
            s.Post.Json(body).ToUrl("/api/gdt/generate");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        return await BytesAsync(result);
    }

    private static async Task<byte[]> BytesAsync(IScenarioResult result)
    {
        var body = result.Context.Response.Body;
        if (body.CanSeek)
        {
            body.Position = 0;
        }

        using var buffer = new MemoryStream();
        await body.CopyToAsync(buffer);
        return buffer.ToArray();
    }

    /// <summary>A German clinic with GDT ids, a patient and a submitted form titled <paramref name="title"/>.</summary>
    private async Task<(Account Admin, PracticeKey Key, Guid FormId)> SubmittedFormAsync(string title)
    {
        var admin = await RegisterClinicAsync("Praxis Dr. Weiß", "DE");
        var key = PracticeKey.NewEc();
        await Host.PublishKeyAsync(admin, key);
        await Host.Scenario(s =>
        {
            s.Patch.Json(new { gdtSenderId = "CFLOW1", gdtReceiverId = "PVS01" }).ToUrl("/api/settings");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        var patient = await Host.AddPatientAsync(admin, new { fullName = "Jürgen Müller-Lüdenscheidt", birthDate = "1970-02-03", gender = "male" });
        var form = await Host.CreateFormAsync(admin, patient.Id, title: title);
        await Host.SubmitAsync(form.Token, key.Encrypt(ConsentTestData.Answers()));
        return (admin, key, form.Id);
    }
}
