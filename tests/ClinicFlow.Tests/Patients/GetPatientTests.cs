using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Patients;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Patients;

public sealed class GetPatientTests(AppFixture app) : ApiTest(app)
{
    private Task<IScenarioResult> GetAsync(Account? caller, Guid id, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Get.Url($"/api/patients/{id}");
            if (caller is not null)
            {
                s.WithBearerToken(caller.Token);
            }

            s.StatusCodeShouldBe(expected);
        });

    [Fact]
    public async Task Returns_the_patient_to_any_member_of_the_clinic()
    {
        var admin = await RegisterClinicAsync();
        var staff = await AddUserAsync(admin, "staff");
        var created = await Host.AddPatientAsync(admin, new
        {
            fullName = "María García", phone = "+5491122334455", email = "maria@example.com", birthDate = "1990-02-03",
            gender = "female", documentId = "27999888", notes = "Prefers mornings", lookupHash = "h1", encryptedData = PatientTestData.Jwe,
        });

        var patient = await (await GetAsync(staff, created.Id, HttpStatusCode.OK)).ReadAsJsonAsync<GetPatient.Response>();

        Assert.Equal(created.Id, patient.Id);
        Assert.Equal("María García", patient.FullName);
        Assert.Equal("+5491122334455", patient.Phone);
        Assert.Equal("maria@example.com", patient.Email);
        Assert.Equal(new DateOnly(1990, 2, 3), patient.BirthDate);
        Assert.Equal("female", patient.Gender);
        Assert.Equal("27999888", patient.DocumentId);
        Assert.Equal("Prefers mornings", patient.Notes);
        Assert.Equal("h1", patient.LookupHash);
        Assert.Equal(PatientTestData.Jwe, patient.EncryptedData);
        Assert.Equal(created.CreatedAt, patient.CreatedAt);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        var result = await GetAsync(null, Guid.CreateVersion7(), HttpStatusCode.Unauthorized);

        await ErrorAsync(result, ErrorCodes.Unauthenticated);
    }

    [Fact]
    public async Task Hides_another_clinics_patient()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync("Other clinic");
        var theirs = await Host.AddPatientAsync(other);

        var result = await GetAsync(admin, theirs.Id, HttpStatusCode.NotFound);

        await ErrorAsync(result, ErrorCodes.NotFound);
    }

    [Fact]
    public async Task Hides_an_erased_patient()
    {
        var admin = await RegisterClinicAsync();
        var patient = await Host.AddPatientAsync(admin);
        await App.EraseAsync(patient.Id);

        var result = await GetAsync(admin, patient.Id, HttpStatusCode.NotFound);

        await ErrorAsync(result, ErrorCodes.NotFound);
    }
}
