using System.Globalization;
using System.Net;
using System.Reflection;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Appointments;
using ClinicFlow.Tests.Support;
using Dapper;
using Npgsql;

namespace ClinicFlow.Tests.Appointments;

public sealed class GetAvailabilityTests(AppFixture app) : SchedulingTest(app)
{
    private const string BuenosAires = "America/Argentina/Buenos_Aires";
    private const string Berlin = "Europe/Berlin";
    private const string Santiago = "America/Santiago";

    private static string Url(Guid doctorId, string from, string to, int? durationMinutes = null) =>
        $"/api/appointments/availability?doctorId={doctorId}&from={Uri.EscapeDataString(from)}&to={Uri.EscapeDataString(to)}"
        + (durationMinutes is { } d ? $"&durationMinutes={d}" : "");

    private static string Iso(DateOnly day) => day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    private static string Iso(DateTimeOffset instant) => instant.ToString("O", CultureInfo.InvariantCulture);

    private static int IsoWeekday(DateOnly day) => day.DayOfWeek == DayOfWeek.Sunday ? 7 : (int)day.DayOfWeek;

    /// <summary>An instant given as a UTC date and time of day.</summary>
    private static DateTimeOffset Utc(DateOnly day, int hour, int minute = 0) =>
        new(day.ToDateTime(TimeOnly.MinValue).AddHours(hour).AddMinutes(minute), TimeSpan.Zero);

    /// <summary>Slot starts from <paramref name="first"/> every <paramref name="step"/> minutes, <paramref name="count"/> of them.</summary>
    private static List<DateTimeOffset> Starts(DateTimeOffset first, int count, int step = 30) =>
        Enumerable.Range(0, count).Select(i => first.AddMinutes(i * step)).ToList();

    /// <summary>A local date a week ahead in <paramref name="zone"/>, so no slot of it is in the past.</summary>
    private static DateOnly WeekAhead(string zone) =>
        DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(DateTimeOffset.UtcNow, TimeZoneInfo.FindSystemTimeZoneById(zone)).DateTime).AddDays(7);

    private async Task<GetAvailability.Response> AvailabilityAsync(Account caller, string url)
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url(url);
            s.WithBearerToken(caller.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        return await result.ReadAsJsonAsync<GetAvailability.Response>();
    }

    /// <summary>Sanity of any answer: ordered, no instant twice, each slot as long as asked.</summary>
    private static void AssertSane(GetAvailability.Response response, int minutes)
    {
        var starts = response.Slots.Select(s => s.StartsAt).ToList();
        Assert.Equal(starts.Distinct().Count(), starts.Count);
        Assert.Equal(starts.Order().ToList(), starts);
        Assert.All(response.Slots, s =>
        {
            Assert.Equal(TimeSpan.FromMinutes(minutes), s.EndsAt - s.StartsAt);
            Assert.Equal(TimeSpan.Zero, s.StartsAt.Offset);
        });
    }

    /// <summary>A Buenos Aires clinic whose doctor works 09:00–13:00 and 14:00–18:00 on <paramref name="day"/>'s weekday.</summary>
    private async Task<(Account Admin, Guid DoctorId)> SplitDayAsync(DateOnly day, int slotMinutes = 30)
    {
        var admin = await RegisterClinicInZoneAsync(BuenosAires);
        var doctorId = await InsertDoctorAsync(admin.ClinicId, slotMinutes: slotMinutes);
        await InsertWeeklyHoursAsync(admin.ClinicId, doctorId, (IsoWeekday(day), "09:00", "13:00"), (IsoWeekday(day), "14:00", "18:00"));
        return (admin, doctorId);
    }

    [Fact]
    public async Task Lists_a_normal_day_in_the_clinics_zone_as_utc_instants()
    {
        var day = WeekAhead(BuenosAires);
        var (admin, doctorId) = await SplitDayAsync(day);
        var staff = await AddUserAsync(admin, "staff");

        var response = await AvailabilityAsync(staff, Url(doctorId, Iso(day), Iso(day)));

        // Buenos Aires is UTC-3 all year: 09:00 local is 12:00Z, 14:00 local is 17:00Z.
        Assert.Equal([.. Starts(Utc(day, 12), 8), .. Starts(Utc(day, 17), 8)], response.Slots.Select(s => s.StartsAt));
        Assert.Equal(Utc(day, 21), response.Slots[^1].EndsAt);
        Assert.Equal(BuenosAires, response.Timezone);
        Assert.Equal(30, response.SlotMinutes);
        AssertSane(response, 30);
    }

    [Fact]
    public async Task Writes_instants_with_z_in_the_json()
    {
        var day = WeekAhead(BuenosAires);
        var (admin, doctorId) = await SplitDayAsync(day);

        var result = await Host.Scenario(s =>
        {
            s.Get.Url(Url(doctorId, Iso(day), Iso(day)));
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var json = await result.ReadAsTextAsync();
        Assert.Contains($"\"startsAt\":\"{Iso(day)}T12:00:00Z\"", json, StringComparison.Ordinal);
        Assert.Contains($"\"endsAt\":\"{Iso(day)}T12:30:00Z\"", json, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Takes_instants_for_from_and_to_and_offers_slots_that_start_inside_them()
    {
        var day = WeekAhead(BuenosAires);
        var (admin, doctorId) = await SplitDayAsync(day);

        // 10:10 to 11:30 local, given with the clinic's offset and in UTC.
        var response = await AvailabilityAsync(admin, Url(doctorId, $"{Iso(day)}T10:10:00-03:00", Iso(Utc(day, 14, 30))));

        Assert.Equal(Starts(Utc(day, 13, 30), 2), response.Slots.Select(s => s.StartsAt));
    }

    [Fact]
    public async Task Leaves_out_the_doctors_time_off()
    {
        var day = WeekAhead(BuenosAires);
        var (admin, doctorId) = await SplitDayAsync(day);
        // 10:00–11:30 local, and the whole afternoon.
        await InsertTimeOffAsync(admin.ClinicId, doctorId, Utc(day, 13), Utc(day, 14, 30), "dentist");
        await InsertTimeOffAsync(admin.ClinicId, doctorId, Utc(day, 17), Utc(day, 21));

        var response = await AvailabilityAsync(admin, Url(doctorId, Iso(day), Iso(day)));

        Assert.Equal([Utc(day, 12), Utc(day, 12, 30), Utc(day, 14, 30), Utc(day, 15), Utc(day, 15, 30)],
            response.Slots.Select(s => s.StartsAt));
    }

    [Fact]
    public async Task Leaves_out_booked_slots_but_offers_cancelled_and_no_show_ones_again()
    {
        var day = WeekAhead(BuenosAires);
        var (admin, doctorId) = await SplitDayAsync(day);
        var otherDoctor = await InsertDoctorAsync(admin.ClinicId, "Dr. Otro");
        var patientId = await CreatePatientAsync(admin);
        await InsertAppointmentAsync(admin.ClinicId, doctorId, patientId, Utc(day, 12), Utc(day, 12, 30));
        await InsertAppointmentAsync(admin.ClinicId, doctorId, patientId, Utc(day, 13, 10), Utc(day, 13, 40), "confirmed");
        await InsertAppointmentAsync(admin.ClinicId, doctorId, patientId, Utc(day, 15), Utc(day, 15, 30), "checked_in");
        await InsertAppointmentAsync(admin.ClinicId, doctorId, patientId, Utc(day, 17), Utc(day, 17, 30), "cancelled");
        await InsertAppointmentAsync(admin.ClinicId, doctorId, patientId, Utc(day, 18), Utc(day, 18, 30), "no_show");
        await InsertAppointmentAsync(admin.ClinicId, doctorId, patientId, Utc(day, 19), Utc(day, 20), "completed");
        await InsertAppointmentAsync(admin.ClinicId, otherDoctor, patientId, Utc(day, 20), Utc(day, 20, 30));

        var response = await AvailabilityAsync(admin, Url(doctorId, Iso(day), Iso(day)));

        // 13:10–13:40 blocks both slots it touches; 12:00 touches 12:30's start only at its end.
        Assert.Equal(
            [Utc(day, 12, 30), Utc(day, 14), Utc(day, 14, 30), Utc(day, 15, 30),
             Utc(day, 17), Utc(day, 17, 30), Utc(day, 18), Utc(day, 18, 30), Utc(day, 20), Utc(day, 20, 30)],
            response.Slots.Select(s => s.StartsAt));
    }

    [Fact]
    public async Task Offers_longer_slots_stepping_by_the_doctors_slot_length()
    {
        var day = WeekAhead(BuenosAires);
        var (admin, doctorId) = await SplitDayAsync(day, slotMinutes: 20);

        var response = await AvailabilityAsync(admin, Url(doctorId, Iso(day), Iso(day), durationMinutes: 60));

        // Four hours each: starts every 20 minutes while an hour still fits, 10 a span.
        Assert.Equal([.. Starts(Utc(day, 12), 10, 20), .. Starts(Utc(day, 17), 10, 20)], response.Slots.Select(s => s.StartsAt));
        Assert.Equal(20, response.SlotMinutes);
        AssertSane(response, 60);
    }

    [Fact]
    public async Task Uses_the_doctors_slot_length_when_no_duration_is_given()
    {
        var day = WeekAhead(BuenosAires);
        var (admin, doctorId) = await SplitDayAsync(day, slotMinutes: 45);

        var response = await AvailabilityAsync(admin, Url(doctorId, Iso(day), Iso(day)));

        // 09:00, 09:45, 10:30, 11:15, 12:00 (12:45 would end after 13:00), then the same from 14:00.
        Assert.Equal([.. Starts(Utc(day, 12), 5, 45), .. Starts(Utc(day, 17), 5, 45)], response.Slots.Select(s => s.StartsAt));
        AssertSane(response, 45);
    }

    [Fact]
    public async Task Never_offers_a_slot_in_the_past()
    {
        var admin = await RegisterClinicInZoneAsync(BuenosAires);
        var doctorId = await InsertDoctorAsync(admin.ClinicId);
        await InsertAlwaysOpenAsync(admin.ClinicId, doctorId);
        var today = WeekAhead(BuenosAires).AddDays(-7);
        var before = DateTimeOffset.UtcNow;

        var response = await AvailabilityAsync(admin, Url(doctorId, Iso(today), Iso(today.AddDays(1))));

        Assert.NotEmpty(response.Slots);
        Assert.All(response.Slots, s => Assert.True(s.StartsAt >= before, $"{s.StartsAt:O} is before {before:O}"));
        // Still on the doctor's grid: whole and half hours of the local day.
        Assert.All(response.Slots, s => Assert.True(s.StartsAt.Minute is 0 or 30 && s.StartsAt.Second == 0));
        AssertSane(response, 30);
    }

    [Fact]
    public async Task Spring_forward_in_berlin_skips_the_missing_hour_and_moves_to_summer_time()
    {
        var day = NextOffsetChange(Berlin, forward: true);
        var admin = await RegisterClinicInZoneAsync(Berlin, "DE");
        var doctorId = await InsertDoctorAsync(admin.ClinicId);
        var saturday = day.AddDays(-1);
        await InsertWeeklyHoursAsync(admin.ClinicId, doctorId,
            (IsoWeekday(saturday), "09:00", "12:00"), (IsoWeekday(day), "01:00", "04:00"), (IsoWeekday(day), "09:00", "12:00"));

        var response = await AvailabilityAsync(admin, Url(doctorId, Iso(saturday), Iso(day)));

        // Saturday at UTC+1; Sunday 01:00 is still +1 (00:00Z), 02:00–03:00 does not exist, 04:00 is +2 (02:00Z):
        // two hours of work, not three; 09:00 is +2 (07:00Z).
        Assert.Equal(
            [.. Starts(Utc(saturday, 8), 6), .. Starts(Utc(day, 0), 4), .. Starts(Utc(day, 7), 6)],
            response.Slots.Select(s => s.StartsAt));
        AssertSane(response, 30);
    }

    [Fact]
    public async Task Fall_back_in_berlin_offers_the_repeated_hour_twice_and_moves_to_winter_time()
    {
        var day = NextOffsetChange(Berlin, forward: false);
        var admin = await RegisterClinicInZoneAsync(Berlin, "DE");
        var doctorId = await InsertDoctorAsync(admin.ClinicId);
        var saturday = day.AddDays(-1);
        await InsertWeeklyHoursAsync(admin.ClinicId, doctorId,
            (IsoWeekday(saturday), "09:00", "12:00"), (IsoWeekday(day), "01:00", "04:00"), (IsoWeekday(day), "09:00", "12:00"));

        var response = await AvailabilityAsync(admin, Url(doctorId, Iso(saturday), Iso(day)));

        // Saturday at UTC+2; Sunday 01:00 is +2 (23:00Z the day before), 02:00–03:00 happens twice, 04:00 is +1 (03:00Z):
        // four hours of work; 09:00 is +1 (08:00Z).
        Assert.Equal(
            [.. Starts(Utc(saturday, 7), 6), .. Starts(Utc(saturday, 23), 8), .. Starts(Utc(day, 8), 6)],
            response.Slots.Select(s => s.StartsAt));
        AssertSane(response, 30);
    }

    [Fact]
    public async Task Spring_forward_in_santiago_starts_the_day_at_one_because_midnight_is_skipped()
    {
        var day = NextOffsetChange(Santiago, forward: true);
        var admin = await RegisterClinicInZoneAsync(Santiago, "CL");
        var doctorId = await InsertDoctorAsync(admin.ClinicId);
        var saturday = day.AddDays(-1);
        await InsertWeeklyHoursAsync(admin.ClinicId, doctorId,
            (IsoWeekday(saturday), "09:00", "12:00"), (IsoWeekday(day), "00:00", "03:00"), (IsoWeekday(day), "09:00", "12:00"));

        var response = await AvailabilityAsync(admin, Url(doctorId, Iso(saturday), Iso(day)));

        // Saturday at UTC-4; on Sunday the clocks jump from 00:00 to 01:00 (-3 = 04:00Z), so 00:00–03:00
        // is two hours; 09:00 is -3 (12:00Z).
        Assert.Equal(
            [.. Starts(Utc(saturday, 13), 6), .. Starts(Utc(day, 4), 4), .. Starts(Utc(day, 12), 6)],
            response.Slots.Select(s => s.StartsAt));
        AssertSane(response, 30);
    }

    [Fact]
    public async Task Fall_back_in_santiago_offers_saturdays_repeated_eleven_oclock_hour_without_duplicates()
    {
        var day = NextOffsetChange(Santiago, forward: false);
        var admin = await RegisterClinicInZoneAsync(Santiago, "CL");
        var doctorId = await InsertDoctorAsync(admin.ClinicId);
        var sunday = day.AddDays(1);
        await InsertWeeklyHoursAsync(admin.ClinicId, doctorId,
            (IsoWeekday(day), "09:00", "12:00"), (IsoWeekday(day), "22:00", "23:59"), (IsoWeekday(sunday), "09:00", "12:00"));

        var response = await AvailabilityAsync(admin, Url(doctorId, Iso(day), Iso(sunday)));

        // Saturday 09:00 is -3 (12:00Z). At 24:00 -3 the clocks go back to 23:00 -4, so 22:00 (-3, 01:00Z)
        // to 23:59 (-4, 03:59Z) is 3 h 59 min of work: 22:00, 22:30, 23:00, 23:30 at -3 and 23:00 again at -4.
        // Sunday 09:00 is -4 (13:00Z).
        Assert.Equal(
            [.. Starts(Utc(day, 12), 6), .. Starts(Utc(sunday, 1), 5), .. Starts(Utc(sunday, 13), 6)],
            response.Slots.Select(s => s.StartsAt));
        AssertSane(response, 30);
        var zone = TimeZoneInfo.FindSystemTimeZoneById(Santiago);
        var evening = response.Slots.Where(s => s.StartsAt.Date == sunday.ToDateTime(TimeOnly.MinValue) && s.StartsAt.Hour < 5).ToList();
        Assert.Equal(["22:00", "22:30", "23:00", "23:30", "23:00"],
            evening.Select(s => TimeZoneInfo.ConvertTime(s.StartsAt, zone).ToString("HH:mm", CultureInfo.InvariantCulture)));
        Assert.All(evening, s => Assert.True(s.EndsAt <= Utc(sunday, 3, 59)));
    }

    [Fact]
    public async Task Dates_cover_whole_local_days_and_a_31_day_window_across_a_dst_change_is_accepted()
    {
        var change = NextOffsetChange(Berlin, forward: true);
        var admin = await RegisterClinicInZoneAsync(Berlin, "DE");
        var doctorId = await InsertDoctorAsync(admin.ClinicId);
        await InsertAlwaysOpenAsync(admin.ClinicId, doctorId);

        // The change day and the 30 after it: 31 local days, 30 days and 23 hours of real time.
        var response = await AvailabilityAsync(admin, Url(doctorId, Iso(change), Iso(change.AddDays(30))));

        // Each day 00:00–23:59 gives 47 slots; the spring-forward day is one hour (2 slots) short.
        Assert.Equal(31 * 47 - 2, response.Slots.Count);
        Assert.Equal(Utc(change.AddDays(-1), 23), response.Slots[0].StartsAt);
        Assert.Equal(Utc(change.AddDays(30), 21), response.Slots[^1].StartsAt);
        AssertSane(response, 30);

        await AssertInvalidAsync("to", s =>
        {
            s.Get.Url(Url(doctorId, Iso(change), Iso(change.AddDays(31))));
            s.WithBearerToken(admin.Token);
        });
    }

    [Fact]
    public async Task An_inactive_doctor_has_no_slots()
    {
        var day = WeekAhead(BuenosAires);
        var admin = await RegisterClinicInZoneAsync(BuenosAires);
        var doctorId = await InsertDoctorAsync(admin.ClinicId, active: false);
        await InsertAlwaysOpenAsync(admin.ClinicId, doctorId);

        var response = await AvailabilityAsync(admin, Url(doctorId, Iso(day), Iso(day)));

        Assert.Empty(response.Slots);
        Assert.Equal(BuenosAires, response.Timezone);
    }

    [Fact]
    public async Task Another_clinics_doctor_or_an_unknown_one_is_not_found()
    {
        var day = WeekAhead(BuenosAires);
        var (_, foreignDoctor) = await SplitDayAsync(day);
        var admin = await RegisterClinicInZoneAsync(BuenosAires);

        foreach (var doctorId in new[] { foreignDoctor, Guid.NewGuid() })
        {
            var result = await Host.Scenario(s =>
            {
                s.Get.Url(Url(doctorId, Iso(day), Iso(day)));
                s.WithBearerToken(admin.Token);
                s.StatusCodeShouldBe(HttpStatusCode.NotFound);
            });
            var error = await ErrorAsync(result, ErrorCodes.NotFound);
            Assert.Null(error.Details);
        }
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Get.Url(Url(Guid.NewGuid(), "2030-01-07", "2030-01-07")));
    }

    [Theory]
    [InlineData("", "from=2030-01-07&to=2030-01-07", "doctorId")]
    [InlineData("{doctor}", "to=2030-01-07", "from")]
    [InlineData("{doctor}", "from=2030-01-07", "to")]
    [InlineData("{doctor}", "from=07.01.2030&to=2030-01-07", "from")]
    [InlineData("{doctor}", "from=2030-02-30&to=2030-03-01", "from")]
    [InlineData("{doctor}", "from=2030-01-07T09:00:00&to=2030-01-07", "from")]
    [InlineData("{doctor}", "from=2030-01-07&to=tomorrow", "to")]
    [InlineData("{doctor}", "from=2030-01-08&to=2030-01-07", "to")]
    [InlineData("{doctor}", "from=2030-01-07T12:00:00Z&to=2030-01-07T12:00:00Z", "to")]
    [InlineData("{doctor}", "from=2030-01-01&to=2030-02-01", "to")]
    [InlineData("{doctor}", "from=2030-01-07&to=2030-01-07&durationMinutes=4", "durationMinutes")]
    [InlineData("{doctor}", "from=2030-01-07&to=2030-01-07&durationMinutes=721", "durationMinutes")]
    public async Task Rejects_a_bad_query_naming_the_field(string doctor, string query, string field)
    {
        var admin = await RegisterClinicInZoneAsync(BuenosAires);
        var doctorId = await InsertDoctorAsync(admin.ClinicId);
        var doctorPart = doctor.Length == 0 ? "" : $"doctorId={doctorId}&";

        await AssertInvalidAsync(field, s =>
        {
            s.Get.Url($"/api/appointments/availability?{doctorPart}{query}");
            s.WithBearerToken(admin.Token);
        });
    }

    [Fact]
    public async Task Accepts_an_offset_whose_plus_arrived_as_a_space()
    {
        var day = WeekAhead(BuenosAires);
        var (admin, doctorId) = await SplitDayAsync(day);

        // "+01:00" written unencoded in a query string reads as " 01:00": 13:00+01:00 is 12:00Z.
        var response = await AvailabilityAsync(admin,
            $"/api/appointments/availability?doctorId={doctorId}&from={Iso(day)}T13:00:00+01:00&to={Iso(day)}T13:00:00Z");

        Assert.Equal(Starts(Utc(day, 12), 2), response.Slots.Select(s => s.StartsAt));
    }

    /// <summary>
    /// The bookings read, planned as the app's own role plans it (row-level security on): the time
    /// bounds are index conditions, so a doctor's long history is not read to answer one week.
    /// </summary>
    [Fact]
    public async Task Reads_only_the_window_of_a_long_history()
    {
        var isolated = await App.StartIsolatedAsync(new Dictionary<string, string?>());
        var admin = await RegisterClinicAsync(host: isolated.Host);
        await using var owner = new NpgsqlConnection(isolated.AdminConnectionString);
        var doctor = Guid.CreateVersion7();
        await owner.ExecuteAsync("""
            insert into doctors (id, clinic_id, full_name) values (@doctor, @ClinicId, 'Dr. History');
            insert into patients (id, clinic_id, full_name) values (gen_random_uuid(), @ClinicId, 'Paciente');
            insert into appointments (id, clinic_id, doctor_id, patient_id, starts_at, ends_at)
            select gen_random_uuid(), @ClinicId, @doctor, (select id from patients where clinic_id = @ClinicId),
                   now() - n * interval '1 hour', now() - n * interval '1 hour' + interval '30 minutes'
            from generate_series(24, 5024) n;
            analyze appointments;
            """, new { doctor, admin.ClinicId });
        var sql = (string)typeof(AppointmentRules).GetField("BookedSql", BindingFlags.NonPublic | BindingFlags.Static)!.GetRawConstantValue()!;
        var from = HoursAhead(7, 0);

        var app = new NpgsqlConnectionStringBuilder(isolated.AdminConnectionString)
        {
            Username = PostgresCluster.AppRole,
            Password = PostgresCluster.AppPassword,
        };
        await using var connection = new NpgsqlConnection(app.ConnectionString);
        await connection.OpenAsync(Ct);
        await using var tx = await connection.BeginTransactionAsync(Ct);
        await connection.ExecuteAsync("select set_config('app.clinic_id', @c, true)", new { c = admin.ClinicId.ToString() }, tx);
        var plan = string.Join('\n', await connection.QueryAsync<string>("explain (analyze, costs off) " + sql, new
        {
            admin.ClinicId,
            DoctorId = doctor,
            From = from,
            To = from.AddDays(7),
            EarliestStart = AppointmentRules.EarliestOverlappingStart(from),
        }, tx));

        Assert.Contains("ix_appointments_doctor", plan, StringComparison.Ordinal);
        var condition = Assert.Single(plan.Split('\n'), line => line.Contains("Index Cond:", StringComparison.Ordinal));
        Assert.Contains("starts_at", condition, StringComparison.Ordinal);
        Assert.DoesNotContain("Rows Removed by Filter", plan, StringComparison.Ordinal);
    }
}
