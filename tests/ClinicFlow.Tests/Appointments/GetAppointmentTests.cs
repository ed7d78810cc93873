using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Appointments;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Appointments;

public sealed class GetAppointmentTests(AppFixture app) : SchedulingTest(app)
{
    private Task<IScenarioResult> GetAsync(Account? caller, string id, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Get.Url($"/api/appointments/{id}");
            if (caller is not null)
            {
                s.WithBearerToken(caller.Token);
            }

            s.StatusCodeShouldBe(expected);
        });

    [Fact]
    public async Task Answers_one_appointment_with_doctor_and_patient_to_any_member()
    {
        var admin = await RegisterClinicAsync();
        var staff = await AddUserAsync(admin, "staff");
        var doctor = await InsertDoctorAsync(admin.ClinicId, "Dra. Lucía Gómez");
        var patient = await CreatePatientAsync(admin, "Mario Rossi");
        var start = HoursAhead(3, 13);
        var id = await InsertAppointmentAsync(admin.ClinicId, doctor, patient, start, start.AddMinutes(40), "confirmed", "Dolor");

        var appointment = await (await GetAsync(staff, id.ToString(), HttpStatusCode.OK)).ReadAsJsonAsync<GetAppointment.Response>();

        Assert.Equal(id, appointment.Id);
        Assert.Equal(doctor, appointment.DoctorId);
        Assert.Equal(patient, appointment.PatientId);
        Assert.Equal(start, appointment.StartsAt);
        Assert.Equal(start.AddMinutes(40), appointment.EndsAt);
        Assert.Equal("confirmed", appointment.Status);
        Assert.Equal("Dolor", appointment.Reason);
        Assert.Null(appointment.Notes);
        Assert.False(appointment.OutsideSchedule);
        Assert.Equal(new GetAppointment.Summary(doctor, "Dra. Lucía Gómez"), appointment.Doctor);
        Assert.Equal(new GetAppointment.Summary(patient, "Mario Rossi"), appointment.Patient);
        Assert.Equal(await App.ScalarAsync<DateTime>("select created_at from appointments where id = @id", new { id }),
            appointment.CreatedAt.UtcDateTime);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Get.Url($"/api/appointments/{Guid.CreateVersion7()}"));
    }

    [Fact]
    public async Task Hides_another_clinics_appointment()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync("Other clinic");
        var doctor = await InsertDoctorAsync(other.ClinicId);
        var patient = await CreatePatientAsync(other);
        var theirs = await InsertAppointmentAsync(other.ClinicId, doctor, patient, HoursAhead(2, 10), HoursAhead(2, 11));

        var result = await GetAsync(admin, theirs.ToString(), HttpStatusCode.NotFound);

        await ErrorAsync(result, ErrorCodes.NotFound);
        Assert.DoesNotContain(patient.ToString(), await result.ReadAsTextAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Answers_not_found_for_an_unknown_or_malformed_id()
    {
        var admin = await RegisterClinicAsync();

        await ErrorAsync(await GetAsync(admin, Guid.CreateVersion7().ToString(), HttpStatusCode.NotFound), ErrorCodes.NotFound);
        await ErrorAsync(await GetAsync(admin, "not-a-guid", HttpStatusCode.NotFound), ErrorCodes.NotFound);
    }
}
