using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Patients;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Patients;

public sealed class LookupPatientTests(AppFixture app) : ApiTest(app)
{
    private Task<IScenarioResult> LookupAsync(Account? caller, string path, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Get.Url("/api/patients/lookup/" + path);
            if (caller is not null)
            {
                s.WithBearerToken(caller.Token);
            }

            s.StatusCodeShouldBe(expected);
        });

    [Theory]
    [InlineData("admin")]
    [InlineData("doctor")]
    public async Task Finds_the_patient_by_lookup_hash(string role)
    {
        var admin = await RegisterClinicAsync();
        var caller = role == "admin" ? admin : await AddUserAsync(admin, role);
        var created = await Host.AddPatientAsync(admin, new { fullName = "Hashed Patient", lookupHash = "k3y-ed_hash=" });
        await Host.AddPatientAsync(admin, new { fullName = "Other Patient", lookupHash = "another" });

        var patient = await (await LookupAsync(caller, "k3y-ed_hash=", HttpStatusCode.OK)).ReadAsJsonAsync<LookupPatient.Response>();

        Assert.Equal(created.Id, patient.Id);
        Assert.Equal("Hashed Patient", patient.FullName);
        Assert.Equal("k3y-ed_hash=", patient.LookupHash);
    }

    [Fact]
    public async Task Finds_a_base64_hash_with_slash_and_plus_sent_escaped_or_not()
    {
        var admin = await RegisterClinicAsync();
        var created = await Host.AddPatientAsync(admin, new { fullName = "Base64", lookupHash = "ab+c/d==" });

        var escaped = await (await LookupAsync(admin, Uri.EscapeDataString("ab+c/d=="), HttpStatusCode.OK)).ReadAsJsonAsync<LookupPatient.Response>();
        var raw = await (await LookupAsync(admin, "ab+c/d==", HttpStatusCode.OK)).ReadAsJsonAsync<LookupPatient.Response>();

        Assert.Equal(created.Id, escaped.Id);
        Assert.Equal(created.Id, raw.Id);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        var result = await LookupAsync(null, "anything", HttpStatusCode.Unauthorized);

        await ErrorAsync(result, ErrorCodes.Unauthenticated);
    }

    [Fact]
    public async Task Refuses_staff()
    {
        var admin = await RegisterClinicAsync();
        var staff = await AddUserAsync(admin, "staff");
        await Host.AddPatientAsync(admin, new { fullName = "Hashed", lookupHash = "staff-cannot" });

        var result = await LookupAsync(staff, "staff-cannot", HttpStatusCode.Forbidden);

        await ErrorAsync(result, ErrorCodes.Forbidden);
    }

    [Fact]
    public async Task Does_not_find_another_clinics_or_an_erased_or_an_unknown_hash()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync("Other clinic");
        await Host.AddPatientAsync(other, new { fullName = "Theirs", lookupHash = "their-hash" });
        var erased = await Host.AddPatientAsync(admin, new { fullName = "Erased", lookupHash = "erased-hash" });
        await App.EraseAsync(erased.Id);

        await ErrorAsync(await LookupAsync(admin, "their-hash", HttpStatusCode.NotFound), ErrorCodes.NotFound);
        await ErrorAsync(await LookupAsync(admin, "erased-hash", HttpStatusCode.NotFound), ErrorCodes.NotFound);
        await ErrorAsync(await LookupAsync(admin, "never-seen", HttpStatusCode.NotFound), ErrorCodes.NotFound);
    }

    [Fact]
    public async Task Rejects_a_malformed_hash_with_details()
    {
        var admin = await RegisterClinicAsync();

        var result = await LookupAsync(admin, new string('h', 129), HttpStatusCode.BadRequest);

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Equal(["hash"], error.Details!.Keys);
    }
}
