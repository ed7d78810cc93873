using System.Globalization;
using System.Net;
using System.Text.Json;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Appointments;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Appointments;

public sealed class UpdateAppointmentSeriesTests(AppFixture app) : SchedulingTest(app)
{
    private const string Berlin = "Europe/Berlin";
    private static readonly TimeZoneInfo BerlinZone = TimeZoneInfo.FindSystemTimeZoneById(Berlin);

    private sealed record Stored(Guid Id, Guid DoctorId, DateTimeOffset StartsAt, DateTimeOffset EndsAt, string Status, string? Notes,
        int Sequence);

    private sealed record Clinic(Account Admin, Guid DoctorId, Guid PatientId, Guid SeriesId, List<Guid> Ids, DateOnly First);

    private static DateTimeOffset BerlinAt(DateOnly date, int hour, int minute = 0)
    {
        var local = date.ToDateTime(new TimeOnly(hour, minute));
        return new DateTimeOffset(local, BerlinZone.GetUtcOffset(local)).ToUniversalTime();
    }

    private static string Iso(DateOnly date) => date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    /// <summary>A clinic in Berlin, a doctor open around the clock, and a weekly series of four at 09:00 written straight to the table.</summary>
    private async Task<Clinic> ArrangeAsync()
    {
        var admin = await RegisterClinicInZoneAsync(Berlin, "DE");
        var doctor = await InsertDoctorAsync(admin.ClinicId, "Dr. Weber");
        await InsertAlwaysOpenAsync(admin.ClinicId, doctor);
        var patient = await CreatePatientAsync(admin, "Paula Patientin");
        var seriesId = Guid.CreateVersion7();
        var first = DateOnly.FromDateTime(DateTime.UtcNow).AddDays(3);
        var ids = new List<Guid>();
        for (var i = 0; i < 4; i++)
        {
            var id = Guid.CreateVersion7();
            var start = BerlinAt(first.AddDays(7 * i), 9);
            await App.ExecuteAsync("""
                insert into appointments (id, clinic_id, doctor_id, patient_id, starts_at, ends_at, series_id)
                values (@id, @clinicId, @doctor, @patient, @start, @end, @seriesId)
                """, new { id, clinicId = admin.ClinicId, doctor, patient, start, end = start.AddMinutes(30), seriesId });
            ids.Add(id);
        }

        return new Clinic(admin, doctor, patient, seriesId, ids, first);
    }

    private Task<IScenarioResult> PatchAsync(Account? caller, Guid seriesId, object body, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Patch.Json(body).ToUrl($"/api/appointments/series/{seriesId}");
            if (caller is not null)
            {
                s.WithBearerToken(caller.Token);
            }

            s.StatusCodeShouldBe(expected);
        });

    private Task<IReadOnlyList<Stored>> StoredAsync(Guid seriesId) =>
        App.QueryAsync<Stored>("""
            select id, doctor_id, starts_at, ends_at, status, notes, sequence
            from appointments where series_id = @seriesId order by starts_at
            """, new { seriesId });

    [Fact]
    public async Task Moves_this_and_the_following_occurrences_to_a_new_wall_clock_time()
    {
        var clinic = await ArrangeAsync();
        var staff = await AddUserAsync(clinic.Admin, "staff");
        var from = clinic.First.AddDays(14);

        var result = await PatchAsync(staff, clinic.SeriesId, new { from = Iso(from), time = "10:30", durationMinutes = 45, notes = "Neue Zeit" },
            HttpStatusCode.OK);

        var body = await result.ReadAsJsonAsync<UpdateAppointmentSeries.Response>();
        Assert.Equal(clinic.SeriesId, body.SeriesId);
        Assert.Equal(clinic.Ids[2..], body.Appointments.Select(a => a.Id));
        Assert.Equal([BerlinAt(from, 10, 30), BerlinAt(from.AddDays(7), 10, 30)], body.Appointments.Select(a => a.StartsAt));
        Assert.All(body.Appointments, a =>
        {
            Assert.Equal(a.StartsAt.AddMinutes(45), a.EndsAt);
            Assert.Equal("Neue Zeit", a.Notes);
            Assert.Equal(clinic.SeriesId, a.SeriesId);
            Assert.Equal(new UpdateAppointmentSeries.Summary(clinic.PatientId, "Paula Patientin"), a.Patient);
        });

        var stored = await StoredAsync(clinic.SeriesId);
        Assert.Equal([BerlinAt(clinic.First, 9), BerlinAt(clinic.First.AddDays(7), 9), BerlinAt(from, 10, 30), BerlinAt(from.AddDays(7), 10, 30)],
            stored.Select(s => s.StartsAt));
        Assert.Equal([0, 0, 1, 1], stored.Select(s => s.Sequence));
        Assert.Equal([null, null, "Neue Zeit", "Neue Zeit"], stored.Select(s => s.Notes));

        var audit = await App.QueryAsync<AuditRow>("""
            select action, entity_type, entity_id, actor_id, actor_type, changes::text as changes
            from audit_log where clinic_id = @clinicId and action like 'appointment.%' order by seq
            """, new { clinicId = clinic.Admin.ClinicId });
        Assert.Equal(["appointment.reschedule", "appointment.update", "appointment.reschedule", "appointment.update"], audit.Select(a => a.Action));
        Assert.Equal([clinic.Ids[2], clinic.Ids[2], clinic.Ids[3], clinic.Ids[3]], audit.Select(a => Guid.Parse(a.EntityId!)));
        Assert.All(audit, a => Assert.Equal(staff.UserId, a.ActorId));
        using var changes = JsonDocument.Parse(audit[0].Changes);
        Assert.Equal(["startsAt", "endsAt"], changes.RootElement.GetProperty("fields").EnumerateArray().Select(f => f.GetString()));
        Assert.Equal(clinic.SeriesId, changes.RootElement.GetProperty("seriesId").GetGuid());
        Assert.DoesNotContain("Neue Zeit", audit[1].Changes, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_conflict_on_one_date_changes_nothing_and_names_the_date()
    {
        var clinic = await ArrangeAsync();
        var other = await CreatePatientAsync(clinic.Admin, "Otto Anderer");
        var taken = clinic.First.AddDays(21);
        await InsertAppointmentAsync(clinic.Admin.ClinicId, clinic.DoctorId, other, BerlinAt(taken, 10, 30), BerlinAt(taken, 11));

        var result = await PatchAsync(clinic.Admin, clinic.SeriesId, new { from = Iso(clinic.First), time = "10:30" }, HttpStatusCode.Conflict);

        var error = await ErrorAsync(result, ErrorCodes.AppointmentConflict);
        Assert.Equal([Iso(taken)], error.Details!.Keys);
        Assert.All(await StoredAsync(clinic.SeriesId), s => Assert.Equal(0, s.Sequence));
        Assert.Null(await LastAuditAsync(clinic.Admin.ClinicId!.Value, "appointment.reschedule"));
    }

    [Fact]
    public async Task Cancelled_and_past_occurrences_are_left_alone()
    {
        var clinic = await ArrangeAsync();
        await App.ExecuteAsync("update appointments set status = 'cancelled' where id = @id", new { id = clinic.Ids[1] });
        await App.ExecuteAsync("update appointments set starts_at = now() - interval '2 hours', ends_at = now() - interval '1 hour' where id = @id",
            new { id = clinic.Ids[0] });

        var body = await (await PatchAsync(clinic.Admin, clinic.SeriesId, new { from = "2000-01-01", reason = "Kontrolle" }, HttpStatusCode.OK))
            .ReadAsJsonAsync<UpdateAppointmentSeries.Response>();

        Assert.Equal(clinic.Ids[2..], body.Appointments.Select(a => a.Id));
        Assert.Equal(2, await App.ScalarAsync<int>("select count(*)::int from appointments where series_id = @id and reason = 'Kontrolle'",
            new { id = clinic.SeriesId }));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Patch.Json(new { from = "2030-01-01" }).ToUrl($"/api/appointments/series/{Guid.NewGuid()}"));
    }

    [Fact]
    public async Task Only_an_admin_may_move_outside_the_schedule()
    {
        var clinic = await ArrangeAsync();
        var staff = await AddUserAsync(clinic.Admin, "staff");

        var result = await PatchAsync(staff, clinic.SeriesId, new { from = Iso(clinic.First), time = "10:00", allowOutsideSchedule = true },
            HttpStatusCode.Forbidden);

        await ErrorAsync(result, ErrorCodes.Forbidden);
        Assert.All(await StoredAsync(clinic.SeriesId), s => Assert.Equal(0, s.Sequence));
    }

    [Fact]
    public async Task Another_clinics_series_is_not_found_and_stays_unchanged()
    {
        var a = await ArrangeAsync();
        var b = await RegisterClinicAsync();

        var result = await PatchAsync(b, a.SeriesId, new { from = Iso(a.First), notes = "fremd" }, HttpStatusCode.NotFound);

        await ErrorAsync(result, ErrorCodes.NotFound);
        Assert.All(await StoredAsync(a.SeriesId), s => Assert.Null(s.Notes));
    }

    [Theory]
    [InlineData("from")]
    [InlineData("time")]
    [InlineData("durationMinutes")]
    public async Task Rejects_invalid_input_with_details(string field)
    {
        var clinic = await ArrangeAsync();
        object body = field switch
        {
            "from" => new { time = "10:00" },
            "time" => new { from = Iso(clinic.First), time = "25:00" },
            _ => new { from = Iso(clinic.First), durationMinutes = 4 },
        };

        await AssertInvalidAsync(field, s =>
        {
            s.Patch.Json(body).ToUrl($"/api/appointments/series/{clinic.SeriesId}");
            s.WithBearerToken(clinic.Admin.Token);
        });
        Assert.All(await StoredAsync(clinic.SeriesId), s => Assert.Equal(0, s.Sequence));
    }
}
