using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Doctors;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Doctors;

public sealed class GetScheduleTests(AppFixture app) : SchedulingTest(app)
{
    private Task<IScenarioResult> GetAsync(Account caller, Guid id, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Get.Url($"/api/doctors/{id}/schedule");
            s.WithBearerToken(caller.Token);
            s.StatusCodeShouldBe(expected);
        });

    [Fact]
    public async Task Returns_the_weekly_hours_sorted_by_weekday_and_start_to_any_member()
    {
        var admin = await RegisterClinicAsync();
        var staff = await AddUserAsync(admin, "staff");
        var id = await InsertDoctorAsync(admin.ClinicId, slotMinutes: 20);
        await InsertWeeklyHoursAsync(admin.ClinicId, id, (5, "14:00", "18:30"), (1, "15:00", "19:00"), (1, "08:00", "12:00"), (7, "00:00", "23:59"));
        var other = await InsertDoctorAsync(admin.ClinicId);
        await InsertWeeklyHoursAsync(admin.ClinicId, other, (2, "10:00", "11:00"));

        var schedule = await (await GetAsync(staff, id, HttpStatusCode.OK)).ReadAsJsonAsync<GetSchedule.Response>();

        Assert.Equal(20, schedule.SlotMinutes);
        Assert.Equal(
            [new(1, "08:00", "12:00"), new(1, "15:00", "19:00"), new(5, "14:00", "18:30"), new GetSchedule.WeeklyRange(7, "00:00", "23:59")],
            schedule.Weekly);
    }

    [Fact]
    public async Task Returns_an_empty_week_for_a_doctor_without_hours()
    {
        var admin = await RegisterClinicAsync();
        var doctorUser = await AddUserAsync(admin, "doctor");
        var id = await InsertDoctorAsync(admin.ClinicId);

        var result = await GetAsync(doctorUser, id, HttpStatusCode.OK);

        var schedule = await result.ReadAsJsonAsync<GetSchedule.Response>();
        Assert.Equal(30, schedule.SlotMinutes);
        Assert.Empty(schedule.Weekly);
        Assert.Contains("\"weekly\":[]", await result.ReadAsTextAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Hides_another_clinics_doctor()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync("Other clinic");
        var theirs = await InsertDoctorAsync(other.ClinicId);
        await InsertWeeklyHoursAsync(other.ClinicId, theirs, (1, "09:00", "17:00"));

        var result = await GetAsync(admin, theirs, HttpStatusCode.NotFound);

        await ErrorAsync(result, ErrorCodes.NotFound);
        Assert.DoesNotContain("09:00", await result.ReadAsTextAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Answers_not_found_for_an_unknown_doctor()
    {
        var admin = await RegisterClinicAsync();

        await ErrorAsync(await GetAsync(admin, Guid.CreateVersion7(), HttpStatusCode.NotFound), ErrorCodes.NotFound);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Get.Url($"/api/doctors/{Guid.CreateVersion7()}/schedule"));
    }
}
