using System.Net;
using System.Text.Json;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Doctors;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Doctors;

public sealed class ReplaceScheduleTests(AppFixture app) : SchedulingTest(app)
{
    private sealed record StoredRange(short Weekday, string Start, string End);

    private Task<IReadOnlyList<StoredRange>> StoredAsync(Guid doctorId) =>
        App.QueryAsync<StoredRange>("""
            select weekday, to_char(starts_at, 'HH24:MI') as start, to_char(ends_at, 'HH24:MI') as "end"
            from doctor_weekly_hours where doctor_id = @doctorId order by weekday, starts_at
            """, new { doctorId });

    private Task<int> SlotMinutesAsync(Guid doctorId) =>
        App.ScalarAsync<int>("select slot_minutes from doctors where id = @doctorId", new { doctorId });

    private Task<IScenarioResult> PutAsync(Account caller, Guid id, object body, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Put.Json(body).ToUrl($"/api/doctors/{id}/schedule");
            s.WithBearerToken(caller.Token);
            s.StatusCodeShouldBe(expected);
        });

    private Task<ApiError> AssertRejectedAsync(Account admin, Guid id, string field, object body) =>
        AssertInvalidAsync(field, s =>
        {
            s.Put.Json(body).ToUrl($"/api/doctors/{id}/schedule");
            s.WithBearerToken(admin.Token);
        });

    private static object Week(params object[] weekly) => new { slotMinutes = 30, weekly };

    private static object Range(int weekday, string start, string end) => new { weekday, start, end };

    [Fact]
    public async Task Replaces_the_week_and_round_trips_through_get()
    {
        var admin = await RegisterClinicAsync();
        var staff = await AddUserAsync(admin, "staff");
        var id = await InsertDoctorAsync(admin.ClinicId);
        await InsertWeeklyHoursAsync(admin.ClinicId, id, (2, "07:00", "08:00"), (6, "10:00", "12:00"));
        var request = new ReplaceSchedule.Request(15,
        [
            new(5, "14:00", "18:00"),
            new(1, "13:00", "17:00"),
            new(1, "09:00", "13:00"),
            new(7, "00:00", "23:59"),
        ]);

        var result = await PutAsync(admin, id, request, HttpStatusCode.OK);

        var answered = await result.ReadAsJsonAsync<ReplaceSchedule.Response>();
        Assert.Equal(15, answered.SlotMinutes);
        Assert.Equal(
            [new(1, "09:00", "13:00"), new(1, "13:00", "17:00"), new(5, "14:00", "18:00"), new ReplaceSchedule.HoursRange(7, "00:00", "23:59")],
            answered.Weekly);
        Assert.Equal(
            [new(1, "09:00", "13:00"), new(1, "13:00", "17:00"), new(5, "14:00", "18:00"), new StoredRange(7, "00:00", "23:59")],
            await StoredAsync(id));
        Assert.Equal(15, await SlotMinutesAsync(id));

        var read = await Host.Scenario(s =>
        {
            s.Get.Url($"/api/doctors/{id}/schedule");
            s.WithBearerToken(staff.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        var schedule = await read.ReadAsJsonAsync<GetSchedule.Response>();
        Assert.Equal(15, schedule.SlotMinutes);
        Assert.Equal(answered.Weekly.Select(r => (r.Weekday, r.Start, r.End)), schedule.Weekly.Select(r => (r.Weekday, r.Start, r.End)));

        var audit = await LastAuditAsync(admin.ClinicId!.Value, "doctor.schedule_replace");
        Assert.NotNull(audit);
        Assert.Equal("doctor", audit.EntityType);
        Assert.Equal(id.ToString(), audit.EntityId);
        Assert.Equal(admin.UserId, audit.ActorId);
        using var changes = JsonDocument.Parse(audit.Changes);
        Assert.Equal(["slotMinutes", "weekly"], changes.RootElement.GetProperty("fields").EnumerateArray().Select(f => f.GetString()));
        Assert.Equal(4, changes.RootElement.GetProperty("ranges").GetInt32());
    }

    [Fact]
    public async Task Clears_the_hours_with_an_empty_week_and_defaults_the_slot_to_thirty_minutes()
    {
        var admin = await RegisterClinicAsync();
        var id = await InsertDoctorAsync(admin.ClinicId, slotMinutes: 45);
        await InsertWeeklyHoursAsync(admin.ClinicId, id, (3, "09:00", "12:00"));

        var answered = await (await PutAsync(admin, id, new { weekly = Array.Empty<object>() }, HttpStatusCode.OK))
            .ReadAsJsonAsync<ReplaceSchedule.Response>();

        Assert.Equal(30, answered.SlotMinutes);
        Assert.Empty(answered.Weekly);
        Assert.Empty(await StoredAsync(id));
        Assert.Equal(30, await SlotMinutesAsync(id));
    }

    [Fact]
    public async Task Leaves_other_doctors_hours_alone()
    {
        var admin = await RegisterClinicAsync();
        var id = await InsertDoctorAsync(admin.ClinicId);
        var colleague = await InsertDoctorAsync(admin.ClinicId);
        await InsertWeeklyHoursAsync(admin.ClinicId, colleague, (1, "09:00", "12:00"));

        await PutAsync(admin, id, Week(Range(1, "10:00", "11:00")), HttpStatusCode.OK);

        Assert.Equal([new StoredRange(1, "09:00", "12:00")], await StoredAsync(colleague));
        Assert.Equal([new StoredRange(1, "10:00", "11:00")], await StoredAsync(id));
    }

    [Fact]
    public async Task Accepts_twelve_ranges_a_day_and_the_slot_bounds()
    {
        var admin = await RegisterClinicAsync();
        var id = await InsertDoctorAsync(admin.ClinicId);
        var twelve = Enumerable.Range(8, 12).Select(h => Range(4, $"{h:00}:00", $"{h:00}:30")).ToArray();

        await PutAsync(admin, id, new { slotMinutes = 5, weekly = twelve }, HttpStatusCode.OK);
        Assert.Equal(12, (await StoredAsync(id)).Count);
        Assert.Equal(5, await SlotMinutesAsync(id));

        await PutAsync(admin, id, new { slotMinutes = 240, weekly = twelve }, HttpStatusCode.OK);
        Assert.Equal(240, await SlotMinutesAsync(id));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Put.Json(Week()).ToUrl($"/api/doctors/{Guid.CreateVersion7()}/schedule"));
    }

    [Theory]
    [InlineData("doctor")]
    [InlineData("staff")]
    public async Task Refuses_non_admins(string role)
    {
        await AssertRefusedForRoleAsync(role, s => s.Put.Json(Week()).ToUrl($"/api/doctors/{Guid.CreateVersion7()}/schedule"));
    }

    [Fact]
    public async Task Hides_another_clinics_doctor_and_leaves_its_hours_alone()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync("Other clinic");
        var theirs = await InsertDoctorAsync(other.ClinicId);
        await InsertWeeklyHoursAsync(other.ClinicId, theirs, (1, "09:00", "17:00"));

        await ErrorAsync(await PutAsync(admin, theirs, Week(), HttpStatusCode.NotFound), ErrorCodes.NotFound);

        Assert.Equal([new StoredRange(1, "09:00", "17:00")], await StoredAsync(theirs));
        Assert.Null(await LastAuditAsync(admin.ClinicId!.Value, "doctor.schedule_replace"));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(8)]
    [InlineData(-1)]
    public async Task Rejects_a_weekday_outside_one_to_seven(int weekday)
    {
        var admin = await RegisterClinicAsync();
        var id = await InsertDoctorAsync(admin.ClinicId);

        await AssertRejectedAsync(admin, id, "weekly[1].weekday", Week(Range(1, "09:00", "10:00"), Range(weekday, "09:00", "10:00")));
    }

    [Theory]
    [InlineData("9:00")]
    [InlineData("24:00")]
    [InlineData("12:60")]
    [InlineData("12:00:00")]
    [InlineData("noon")]
    [InlineData("")]
    public async Task Rejects_a_time_that_is_not_hh_mm(string time)
    {
        var admin = await RegisterClinicAsync();
        var id = await InsertDoctorAsync(admin.ClinicId);

        await AssertRejectedAsync(admin, id, "weekly[0].start", Week(Range(1, time, "23:00")));
        await AssertRejectedAsync(admin, id, "weekly[2].end", Week(Range(1, "08:00", "09:00"), Range(2, "08:00", "09:00"), Range(3, "08:00", time)));
    }

    [Fact]
    public async Task Rejects_a_range_that_does_not_end_after_it_starts()
    {
        var admin = await RegisterClinicAsync();
        var id = await InsertDoctorAsync(admin.ClinicId);

        await AssertRejectedAsync(admin, id, "weekly[0].end", Week(Range(1, "10:00", "10:00")));
        await AssertRejectedAsync(admin, id, "weekly[1].end", Week(Range(1, "08:00", "09:00"), Range(1, "18:00", "09:00")));
    }

    [Fact]
    public async Task Rejects_overlapping_ranges_on_the_same_weekday_naming_the_later_one()
    {
        var admin = await RegisterClinicAsync();
        var id = await InsertDoctorAsync(admin.ClinicId);

        var error = await AssertRejectedAsync(admin, id, "weekly[0].start",
            Week(Range(1, "12:00", "14:00"), Range(1, "09:00", "12:30"), Range(2, "12:00", "14:00")));
        Assert.Equal(["weekly[0].start"], error.Details!.Keys);

        await AssertRejectedAsync(admin, id, "weekly[1].start", Week(Range(3, "09:00", "17:00"), Range(3, "09:00", "10:00")));
        await AssertRejectedAsync(admin, id, "weekly[2].start",
            Week(Range(3, "08:00", "18:00"), Range(3, "09:00", "10:00"), Range(3, "11:00", "12:00")));
    }

    [Fact]
    public async Task Accepts_touching_ranges_and_the_same_hours_on_different_days()
    {
        var admin = await RegisterClinicAsync();
        var id = await InsertDoctorAsync(admin.ClinicId);

        await PutAsync(admin, id, Week(Range(1, "09:00", "13:00"), Range(1, "13:00", "17:00"), Range(2, "09:00", "13:00")), HttpStatusCode.OK);

        Assert.Equal(3, (await StoredAsync(id)).Count);
    }

    [Fact]
    public async Task Rejects_a_thirteenth_range_on_one_day()
    {
        var admin = await RegisterClinicAsync();
        var id = await InsertDoctorAsync(admin.ClinicId);
        var thirteen = Enumerable.Range(8, 13).Select(h => Range(4, $"{h:00}:00", $"{h:00}:30")).ToArray();

        var error = await AssertRejectedAsync(admin, id, "weekly[12].weekday", Week(thirteen));

        Assert.Equal(["weekly[12].weekday"], error.Details!.Keys);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(241)]
    [InlineData(0)]
    public async Task Rejects_a_slot_length_outside_five_to_two_hundred_forty_minutes(int slotMinutes)
    {
        var admin = await RegisterClinicAsync();
        var id = await InsertDoctorAsync(admin.ClinicId);

        await AssertRejectedAsync(admin, id, "slotMinutes", new { slotMinutes, weekly = Array.Empty<object>() });
    }

    [Fact]
    public async Task Rejects_a_missing_week_and_an_empty_item()
    {
        var admin = await RegisterClinicAsync();
        var id = await InsertDoctorAsync(admin.ClinicId);

        await AssertRejectedAsync(admin, id, "weekly", new { slotMinutes = 30 });
        await AssertRejectedAsync(admin, id, "weekly[0]", new { weekly = new object?[] { null } });
        var error = await AssertRejectedAsync(admin, id, "weekly[0].weekday", new { weekly = new[] { new { } } });
        Assert.Equal(["weekly[0].end", "weekly[0].start", "weekly[0].weekday"], error.Details!.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Keeps_the_old_week_when_the_new_one_is_invalid()
    {
        var admin = await RegisterClinicAsync();
        var id = await InsertDoctorAsync(admin.ClinicId, slotMinutes: 20);
        await InsertWeeklyHoursAsync(admin.ClinicId, id, (1, "09:00", "12:00"));

        await AssertRejectedAsync(admin, id, "weekly[1].end", new { slotMinutes = 60, weekly = new[] { Range(2, "09:00", "10:00"), Range(2, "11:00", "25:00") } });

        Assert.Equal([new StoredRange(1, "09:00", "12:00")], await StoredAsync(id));
        Assert.Equal(20, await SlotMinutesAsync(id));
        Assert.Null(await LastAuditAsync(admin.ClinicId!.Value, "doctor.schedule_replace"));
    }
}
