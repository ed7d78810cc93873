using System.Net;
using System.Text.Json;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Patients;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Patients;

public sealed class RegisterPatientTests(AppFixture app) : ApiTest(app)
{
    private sealed record Stored(Guid ClinicId, string FullName, string? Phone, string? Email, DateOnly? BirthDate, string? Gender,
        string? DocumentId, string? Notes, string? LookupHash, string? EncryptedData);

    private const string StoredSql = """
        select clinic_id, full_name, phone, email::text as email, birth_date, gender, document_id, notes, lookup_hash, encrypted_data
        from patients where id = @Id
        """;

    private Task<IScenarioResult> PostAsync(Account? caller, object body, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Post.Json(body).ToUrl("/api/patients");
            if (caller is not null)
            {
                s.WithBearerToken(caller.Token);
            }

            s.StatusCodeShouldBe(expected);
        });

    [Fact]
    public async Task Registers_a_patient_with_a_normalised_phone_and_audits_field_names_only()
    {
        var admin = await RegisterClinicAsync();
        var staff = await AddUserAsync(admin, "staff");
        var request = new RegisterPatient.Request("  José Núñez ", "011 2233-4455", "jose@example.com", new DateOnly(1980, 5, 17), "male",
            "DNI 20123456", "Allergic to penicillin", "aGFzaA-_=+/", PatientTestData.Jwe);

        var result = await PostAsync(staff, request, HttpStatusCode.Created);

        var patient = await result.ReadAsJsonAsync<RegisterPatient.Response>();
        Assert.Equal($"/api/patients/{patient.Id}", result.Context.Response.Headers.Location.ToString());
        Assert.Equal("José Núñez", patient.FullName);
        Assert.Equal("+541122334455", patient.Phone);
        Assert.Equal("jose@example.com", patient.Email);
        Assert.Equal(new DateOnly(1980, 5, 17), patient.BirthDate);
        Assert.Equal("male", patient.Gender);
        Assert.Equal("DNI 20123456", patient.DocumentId);
        Assert.False(patient.Blocked);
        Assert.Null(patient.BlockedReason);
        Assert.Equal("aGFzaA-_=+/", patient.LookupHash);
        Assert.Equal(PatientTestData.Jwe, patient.EncryptedData);
        Assert.Equal(
            new Stored(admin.ClinicId!.Value, "José Núñez", "+541122334455", "jose@example.com", new DateOnly(1980, 5, 17), "male",
                "DNI 20123456", "Allergic to penicillin", "aGFzaA-_=+/", PatientTestData.Jwe),
            (await App.QueryAsync<Stored>(StoredSql, new { patient.Id })).Single());

        var audit = await LastAuditAsync(admin.ClinicId.Value, "patient.create");
        Assert.NotNull(audit);
        Assert.Equal(patient.Id.ToString(), audit.EntityId);
        Assert.Equal(staff.UserId, audit.ActorId);
        using var changes = JsonDocument.Parse(audit.Changes);
        Assert.Equal(
            ["fullName", "phone", "email", "birthDate", "gender", "documentId", "notes", "lookupHash", "encryptedData"],
            changes.RootElement.GetProperty("fields").EnumerateArray().Select(f => f.GetString()));
        Assert.DoesNotContain("Núñez", audit.Changes, StringComparison.Ordinal);
        Assert.DoesNotContain("20123456", audit.Changes, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Registers_a_patient_with_only_a_name()
    {
        var admin = await RegisterClinicAsync();

        var patient = await Host.AddPatientAsync(admin, new { fullName = "Solo Nombre", phone = "", email = "" });

        Assert.Equal("Solo Nombre", patient.FullName);
        Assert.Null(patient.Phone);
        Assert.Null(patient.Email);
        Assert.Null(patient.BirthDate);
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "patient.create");
        using var changes = JsonDocument.Parse(audit!.Changes);
        Assert.Equal(["fullName"], changes.RootElement.GetProperty("fields").EnumerateArray().Select(f => f.GetString()));
    }

    [Fact]
    public async Task Keeps_an_international_phone_of_another_country()
    {
        var admin = await RegisterClinicAsync();

        var patient = await Host.AddPatientAsync(admin, new { fullName = "Hans Müller", phone = "+49 30 1234567" });

        Assert.Equal("+49301234567", patient.Phone);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        var result = await PostAsync(null, new { fullName = "X" }, HttpStatusCode.Unauthorized);

        await ErrorAsync(result, ErrorCodes.Unauthenticated);
    }

    [Fact]
    public async Task Rejects_bad_input_with_details()
    {
        var admin = await RegisterClinicAsync();

        var result = await PostAsync(admin, new
        {
            fullName = "",
            email = "nope",
            birthDate = DateOnly.FromDateTime(DateTime.UtcNow).AddDays(3),
            gender = "robot",
            documentId = new string('1', 65),
            notes = new string('n', 4001),
            lookupHash = "has spaces",
            encryptedData = "not.a.jwe",
        }, HttpStatusCode.BadRequest);

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Equal(
            ["birthDate", "documentId", "email", "encryptedData", "fullName", "gender", "lookupHash", "notes"],
            error.Details!.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from patients where clinic_id = @ClinicId", new { admin.ClinicId }));
    }

    [Fact]
    public async Task Rejects_a_phone_that_is_not_a_number()
    {
        var admin = await RegisterClinicAsync();

        var result = await PostAsync(admin, new { fullName = "X", phone = "12" }, HttpStatusCode.BadRequest);

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Equal(["phone"], error.Details!.Keys);
    }

    [Fact]
    public async Task Rejects_a_long_lookup_hash_and_oversized_encrypted_data()
    {
        var admin = await RegisterClinicAsync();
        var huge = "eyJhbGciOiJkaXIifQ..aXY." + new string('A', PatientRules.MaxEncryptedDataChars) + ".dGFn";

        var result = await PostAsync(admin, new { fullName = "X", lookupHash = new string('h', 129), encryptedData = huge }, HttpStatusCode.BadRequest);

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Equal(["encryptedData", "lookupHash"], error.Details!.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Refuses_a_duplicate_document_id_in_the_clinic_but_not_in_another()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync("Other clinic");
        await Host.AddPatientAsync(admin, new { fullName = "First", documentId = "30111222" });

        var result = await PostAsync(admin, new { fullName = "Second", documentId = "30111222" }, HttpStatusCode.Conflict);
        await Host.AddPatientAsync(other, new { fullName = "Elsewhere", documentId = "30111222" });

        await ErrorAsync(result, ErrorCodes.AlreadyExists);
        Assert.Equal(1, await App.ScalarAsync<int>("select count(*)::int from patients where clinic_id = @ClinicId", new { admin.ClinicId }));
    }

    [Fact]
    public async Task Refuses_a_duplicate_lookup_hash_in_the_clinic_but_not_in_another()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync("Other clinic");
        await Host.AddPatientAsync(admin, new { fullName = "First", lookupHash = "same-hash" });

        var result = await PostAsync(admin, new { fullName = "Second", lookupHash = "same-hash" }, HttpStatusCode.Conflict);
        await Host.AddPatientAsync(other, new { fullName = "Elsewhere", lookupHash = "same-hash" });

        await ErrorAsync(result, ErrorCodes.AlreadyExists);
        Assert.Equal(1, await App.ScalarAsync<int>("select count(*)::int from patients where clinic_id = @ClinicId", new { admin.ClinicId }));
    }
}
