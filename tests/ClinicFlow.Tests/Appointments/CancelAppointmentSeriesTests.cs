using System.Globalization;
using System.Net;
using System.Text.Json;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Appointments;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Appointments;

public sealed class CancelAppointmentSeriesTests(AppFixture app) : SchedulingTest(app)
{
    private sealed record Stored(Guid Id, string Status, int Sequence);

    private sealed record Clinic(Account Admin, Guid DoctorId, Guid SeriesId, List<Guid> Ids, DateOnly First);

    private static string Iso(DateOnly date) => date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    /// <summary>A clinic in UTC with a weekly series of four at 10:00 written straight to the table.</summary>
    private async Task<Clinic> ArrangeAsync()
    {
        var admin = await RegisterClinicInZoneAsync("Etc/UTC");
        var doctor = await InsertDoctorAsync(admin.ClinicId);
        await InsertAlwaysOpenAsync(admin.ClinicId, doctor);
        var patient = await CreatePatientAsync(admin);
        var seriesId = Guid.CreateVersion7();
        var first = DateOnly.FromDateTime(DateTime.UtcNow).AddDays(3);
        var ids = new List<Guid>();
        for (var i = 0; i < 4; i++)
        {
            var id = Guid.CreateVersion7();
            var start = new DateTimeOffset(first.AddDays(7 * i).ToDateTime(new TimeOnly(10, 0)), TimeSpan.Zero);
            await App.ExecuteAsync("""
                insert into appointments (id, clinic_id, doctor_id, patient_id, starts_at, ends_at, series_id)
                values (@id, @clinicId, @doctor, @patient, @start, @end, @seriesId)
                """, new { id, clinicId = admin.ClinicId, doctor, patient, start, end = start.AddMinutes(30), seriesId });
            ids.Add(id);
        }

        return new Clinic(admin, doctor, seriesId, ids, first);
    }

    private Task<IScenarioResult> DeleteAsync(Account? caller, Guid seriesId, string? from, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Delete.Url($"/api/appointments/series/{seriesId}" + (from is null ? "" : $"?from={from}"));
            if (caller is not null)
            {
                s.WithBearerToken(caller.Token);
            }

            s.StatusCodeShouldBe(expected);
        });

    private Task<IReadOnlyList<Stored>> StoredAsync(Guid seriesId) =>
        App.QueryAsync<Stored>("select id, status, sequence from appointments where series_id = @seriesId order by starts_at", new { seriesId });

    [Fact]
    public async Task Cancels_this_and_the_following_occurrences_and_frees_their_slots()
    {
        var clinic = await ArrangeAsync();
        var staff = await AddUserAsync(clinic.Admin, "staff");
        var from = clinic.First.AddDays(14);

        var body = await (await DeleteAsync(staff, clinic.SeriesId, Iso(from), HttpStatusCode.OK))
            .ReadAsJsonAsync<CancelAppointmentSeries.Response>();

        Assert.Equal(clinic.SeriesId, body.SeriesId);
        Assert.Equal(clinic.Ids[2..], body.Appointments.Select(a => a.Id));
        Assert.All(body.Appointments, a => Assert.Equal("cancelled", a.Status));
        Assert.Equal([new Stored(clinic.Ids[0], "scheduled", 0), new Stored(clinic.Ids[1], "scheduled", 0),
            new Stored(clinic.Ids[2], "cancelled", 1), new Stored(clinic.Ids[3], "cancelled", 1)], await StoredAsync(clinic.SeriesId));

        var audit = await App.QueryAsync<AuditRow>("""
            select action, entity_type, entity_id, actor_id, actor_type, changes::text as changes
            from audit_log where clinic_id = @clinicId and action = 'appointment.cancel' order by seq
            """, new { clinicId = clinic.Admin.ClinicId });
        Assert.Equal(clinic.Ids[2..].Select(id => id.ToString()), audit.Select(a => a.EntityId));
        Assert.All(audit, a => Assert.Equal(staff.UserId, a.ActorId));
        using var changes = JsonDocument.Parse(audit[0].Changes);
        Assert.Equal("scheduled", changes.RootElement.GetProperty("from").GetString());
        Assert.Equal(clinic.SeriesId, changes.RootElement.GetProperty("seriesId").GetGuid());

        // The freed slot can be booked again.
        var other = await CreatePatientAsync(clinic.Admin, "Otto Anderer");
        await Host.Scenario(s =>
        {
            s.Post.Json(new { doctorId = clinic.DoctorId, patientId = other, startsAt = body.Appointments[0].StartsAt, durationMinutes = 30 })
                .ToUrl("/api/appointments");
            s.WithBearerToken(clinic.Admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
    }

    [Fact]
    public async Task Cancelling_again_cancels_nothing_more()
    {
        var clinic = await ArrangeAsync();
        await DeleteAsync(clinic.Admin, clinic.SeriesId, Iso(clinic.First), HttpStatusCode.OK);

        var again = await (await DeleteAsync(clinic.Admin, clinic.SeriesId, Iso(clinic.First), HttpStatusCode.OK))
            .ReadAsJsonAsync<CancelAppointmentSeries.Response>();

        Assert.Empty(again.Appointments);
        Assert.All(await StoredAsync(clinic.SeriesId), s => Assert.Equal(new Stored(s.Id, "cancelled", 1), s));
        Assert.Equal(4, await App.ScalarAsync<int>(
            "select count(*)::int from audit_log where clinic_id = @clinicId and action = 'appointment.cancel'", new { clinicId = clinic.Admin.ClinicId }));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Delete.Url($"/api/appointments/series/{Guid.NewGuid()}?from=2030-01-01"));
    }

    [Fact]
    public async Task Refuses_a_user_without_a_clinic()
    {
        var solo = await RegisterWithoutClinicAsync();

        await ErrorAsync(await DeleteAsync(solo, Guid.NewGuid(), "2030-01-01", HttpStatusCode.Forbidden), ErrorCodes.Forbidden);
    }

    [Fact]
    public async Task Another_clinics_series_is_not_found_and_stays_booked()
    {
        var a = await ArrangeAsync();
        var b = await RegisterClinicAsync();

        await ErrorAsync(await DeleteAsync(b, a.SeriesId, Iso(a.First), HttpStatusCode.NotFound), ErrorCodes.NotFound);

        Assert.All(await StoredAsync(a.SeriesId), s => Assert.Equal("scheduled", s.Status));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("29.11.2030")]
    public async Task Rejects_a_missing_or_malformed_from(string? from)
    {
        var clinic = await ArrangeAsync();

        await AssertInvalidAsync("from", s =>
        {
            s.Delete.Url($"/api/appointments/series/{clinic.SeriesId}" + (from is null ? "" : $"?from={from}"));
            s.WithBearerToken(clinic.Admin.Token);
        });
        Assert.All(await StoredAsync(clinic.SeriesId), s => Assert.Equal("scheduled", s.Status));
    }
}
