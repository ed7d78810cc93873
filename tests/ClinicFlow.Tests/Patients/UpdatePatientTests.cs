using System.Net;
using System.Text.Json;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Patients;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Patients;

public sealed class UpdatePatientTests(AppFixture app) : ApiTest(app)
{
    private sealed record Stored(string FullName, string? Phone, string? Email, DateOnly? BirthDate, string? Gender, string? DocumentId,
        string? Notes, string? LookupHash, string? EncryptedData);

    private const string StoredSql = """
        select full_name, phone, email::text as email, birth_date, gender, document_id, notes, lookup_hash, encrypted_data
        from patients where id = @Id
        """;

    private Task<IScenarioResult> PatchAsync(Account? caller, Guid id, object body, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Patch.Json(body).ToUrl($"/api/patients/{id}");
            if (caller is not null)
            {
                s.WithBearerToken(caller.Token);
            }

            s.StatusCodeShouldBe(expected);
        });

    private async Task<Stored> StoredAsync(Guid id) => (await App.QueryAsync<Stored>(StoredSql, new { Id = id })).Single();

    private static List<string?> Fields(AuditRow audit)
    {
        using var changes = JsonDocument.Parse(audit.Changes);
        return changes.RootElement.GetProperty("fields").EnumerateArray().Select(f => f.GetString()).ToList();
    }

    [Fact]
    public async Task Changes_given_fields_keeps_null_ones_clears_empty_ones_and_audits_names_only()
    {
        var admin = await RegisterClinicAsync();
        var staff = await AddUserAsync(admin, "staff");
        var created = await Host.AddPatientAsync(admin, new
        {
            fullName = "Ana Pérez", phone = "+5491122334455", email = "ana@example.com", birthDate = "1985-01-02", gender = "female",
            documentId = "111", notes = "Old note", lookupHash = "hash-1", encryptedData = PatientTestData.Jwe,
        });

        var result = await PatchAsync(staff, created.Id,
            new UpdatePatient.Request("Ana María Pérez", "011 2233-4455", null, null, null, "", "", null, null), HttpStatusCode.OK);

        var patient = await result.ReadAsJsonAsync<UpdatePatient.Response>();
        Assert.Equal("Ana María Pérez", patient.FullName);
        Assert.Equal("+541122334455", patient.Phone);
        Assert.Equal("ana@example.com", patient.Email);
        Assert.Null(patient.DocumentId);
        Assert.Null(patient.Notes);
        Assert.Equal(
            new Stored("Ana María Pérez", "+541122334455", "ana@example.com", new DateOnly(1985, 1, 2), "female", null, null, "hash-1", PatientTestData.Jwe),
            await StoredAsync(created.Id));

        var audit = await LastAuditAsync(admin.ClinicId!.Value, "patient.update");
        Assert.NotNull(audit);
        Assert.Equal(created.Id.ToString(), audit.EntityId);
        Assert.Equal(staff.UserId, audit.ActorId);
        Assert.Equal(["fullName", "phone", "documentId", "notes"], Fields(audit));
        Assert.DoesNotContain("Pérez", audit.Changes, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unchanged_patch_writes_no_audit_entry()
    {
        var admin = await RegisterClinicAsync();
        var created = await Host.AddPatientAsync(admin, new { fullName = "Same", gender = "other" });

        var patient = await (await PatchAsync(admin, created.Id, new { fullName = "Same", gender = "other" }, HttpStatusCode.OK))
            .ReadAsJsonAsync<UpdatePatient.Response>();

        Assert.Equal("Same", patient.FullName);
        Assert.Null(await LastAuditAsync(admin.ClinicId!.Value, "patient.update"));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        var result = await PatchAsync(null, Guid.CreateVersion7(), new { fullName = "X" }, HttpStatusCode.Unauthorized);

        await ErrorAsync(result, ErrorCodes.Unauthenticated);
    }

    [Fact]
    public async Task Hides_another_clinics_patient()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync("Other clinic");
        var theirs = await Host.AddPatientAsync(other, new { fullName = "Theirs" });

        var result = await PatchAsync(admin, theirs.Id, new { fullName = "Mine now" }, HttpStatusCode.NotFound);

        await ErrorAsync(result, ErrorCodes.NotFound);
        Assert.Equal("Theirs", (await StoredAsync(theirs.Id)).FullName);
    }

    [Fact]
    public async Task Hides_an_erased_patient()
    {
        var admin = await RegisterClinicAsync();
        var patient = await Host.AddPatientAsync(admin);
        await App.EraseAsync(patient.Id);

        var result = await PatchAsync(admin, patient.Id, new { notes = "x" }, HttpStatusCode.NotFound);

        await ErrorAsync(result, ErrorCodes.NotFound);
    }

    [Fact]
    public async Task Rejects_bad_input_with_details()
    {
        var admin = await RegisterClinicAsync();
        var patient = await Host.AddPatientAsync(admin);

        var result = await PatchAsync(admin, patient.Id, new
        {
            fullName = "",
            email = "nope",
            birthDate = "2999-01-01",
            gender = "robot",
            lookupHash = "bad hash!",
            encryptedData = "a.b",
        }, HttpStatusCode.BadRequest);

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Equal(["birthDate", "email", "encryptedData", "fullName", "gender", "lookupHash"], error.Details!.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Rejects_a_phone_that_is_not_a_number()
    {
        var admin = await RegisterClinicAsync();
        var patient = await Host.AddPatientAsync(admin, new { fullName = "X", phone = "+5491122334455" });

        var result = await PatchAsync(admin, patient.Id, new { phone = "abc" }, HttpStatusCode.BadRequest);

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Equal(["phone"], error.Details!.Keys);
        Assert.Equal("+5491122334455", (await StoredAsync(patient.Id)).Phone);
    }

    [Fact]
    public async Task Refuses_a_document_id_or_lookup_hash_another_patient_has()
    {
        var admin = await RegisterClinicAsync();
        await Host.AddPatientAsync(admin, new { fullName = "Holder", documentId = "222", lookupHash = "taken" });
        var patient = await Host.AddPatientAsync(admin, new { fullName = "Mover" });

        await ErrorAsync(await PatchAsync(admin, patient.Id, new { documentId = "222" }, HttpStatusCode.Conflict), ErrorCodes.AlreadyExists);
        await ErrorAsync(await PatchAsync(admin, patient.Id, new { lookupHash = "taken" }, HttpStatusCode.Conflict), ErrorCodes.AlreadyExists);

        var stored = await StoredAsync(patient.Id);
        Assert.Null(stored.DocumentId);
        Assert.Null(stored.LookupHash);
    }
}
