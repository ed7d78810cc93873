using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Doctors;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Doctors;

public sealed class GetDoctorTests(AppFixture app) : SchedulingTest(app)
{
    private Task<IScenarioResult> GetAsync(Account caller, Guid id, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Get.Url($"/api/doctors/{id}");
            s.WithBearerToken(caller.Token);
            s.StatusCodeShouldBe(expected);
        });

    [Fact]
    public async Task Returns_one_doctor_to_any_member()
    {
        var admin = await RegisterClinicAsync();
        var staff = await AddUserAsync(admin, "staff");
        var user = await AddUserAsync(admin, "doctor");
        var id = await InsertDoctorAsync(admin.ClinicId, "Dra. Ana", userId: user.UserId);
        await App.ExecuteAsync("""
            update doctors set specialty = 'Pediatría', email = 'ana@example.com', phone = '+5491122334455', color = '#abcdef'
            where id = @id
            """, new { id });

        var doctor = await (await GetAsync(staff, id, HttpStatusCode.OK)).ReadAsJsonAsync<GetDoctor.Response>();

        Assert.Equal(id, doctor.Id);
        Assert.Equal("Dra. Ana", doctor.FullName);
        Assert.Equal("Pediatría", doctor.Specialty);
        Assert.Equal("ana@example.com", doctor.Email);
        Assert.Equal("+5491122334455", doctor.Phone);
        Assert.Equal(user.UserId, doctor.UserId);
        Assert.True(doctor.Active);
        Assert.Equal("#abcdef", doctor.Color);
        Assert.True(doctor.CreatedAt > DateTimeOffset.UtcNow.AddMinutes(-5));
    }

    [Fact]
    public async Task Returns_an_inactive_doctor_too()
    {
        var admin = await RegisterClinicAsync();
        var doctorUser = await AddUserAsync(admin, "doctor");
        var id = await InsertDoctorAsync(admin.ClinicId, "Dr. Retirado", active: false);

        var doctor = await (await GetAsync(doctorUser, id, HttpStatusCode.OK)).ReadAsJsonAsync<GetDoctor.Response>();

        Assert.False(doctor.Active);
        Assert.Equal("Dr. Retirado", doctor.FullName);
    }

    [Fact]
    public async Task Hides_another_clinics_doctor()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync("Other clinic");
        var theirs = await InsertDoctorAsync(other.ClinicId, "Dr. Ajeno");

        var result = await GetAsync(admin, theirs, HttpStatusCode.NotFound);

        var error = await ErrorAsync(result, ErrorCodes.NotFound);
        Assert.DoesNotContain("Ajeno", error.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Ajeno", await result.ReadAsTextAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Answers_not_found_for_an_unknown_id()
    {
        var admin = await RegisterClinicAsync();

        await ErrorAsync(await GetAsync(admin, Guid.CreateVersion7(), HttpStatusCode.NotFound), ErrorCodes.NotFound);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Get.Url($"/api/doctors/{Guid.CreateVersion7()}"));
    }
}
