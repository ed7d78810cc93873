using System.Net;
using System.Text.Json;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Doctors;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Doctors;

public sealed class CreateTimeOffTests(AppFixture app) : SchedulingTest(app)
{
    private sealed record Stored(Guid ClinicId, Guid DoctorId, DateTimeOffset StartsAt, DateTimeOffset EndsAt, string? Reason);

    private Task<IReadOnlyList<Stored>> StoredAsync(Guid doctorId) =>
        App.QueryAsync<Stored>(
            "select clinic_id, doctor_id, starts_at, ends_at, reason from doctor_time_off where doctor_id = @doctorId order by starts_at",
            new { doctorId });

    private Task<IScenarioResult> PostAsync(Account caller, Guid doctorId, object body, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Post.Json(body).ToUrl($"/api/doctors/{doctorId}/time-off");
            s.WithBearerToken(caller.Token);
            s.StatusCodeShouldBe(expected);
        });

    [Fact]
    public async Task Records_time_off_keeps_the_appointments_in_it_and_counts_them()
    {
        var admin = await RegisterClinicAsync();
        var id = await InsertDoctorAsync(admin.ClinicId);
        var patient = await CreatePatientAsync(admin);
        var inside = await InsertAppointmentAsync(admin.ClinicId, id, patient, HoursAhead(5, 10), HoursAhead(5, 11));
        var straddling = await InsertAppointmentAsync(admin.ClinicId, id, patient, HoursAhead(4, 23), HoursAhead(5, 1), "confirmed");
        await InsertAppointmentAsync(admin.ClinicId, id, patient, HoursAhead(5, 12), HoursAhead(5, 13), "cancelled");
        await InsertAppointmentAsync(admin.ClinicId, id, patient, HoursAhead(6, 12), HoursAhead(6, 13));
        var colleague = await InsertDoctorAsync(admin.ClinicId);
        await InsertAppointmentAsync(admin.ClinicId, colleague, patient, HoursAhead(5, 10), HoursAhead(5, 11));
        var startsAt = HoursAhead(5, 0);
        var endsAt = HoursAhead(6, 0);

        var result = await PostAsync(admin, id, new CreateTimeOff.Request(startsAt.ToOffset(TimeSpan.FromHours(-3)), endsAt, " Congreso "),
            HttpStatusCode.Created);

        var timeOff = await result.ReadAsJsonAsync<CreateTimeOff.Response>();
        Assert.Equal($"/api/doctors/{id}/time-off/{timeOff.Id}", result.Context.Response.Headers.Location.ToString());
        Assert.Equal(id, timeOff.DoctorId);
        Assert.Equal(startsAt, timeOff.StartsAt);
        Assert.Equal(endsAt, timeOff.EndsAt);
        Assert.Equal("Congreso", timeOff.Reason);
        Assert.Equal(2, timeOff.OverlappingAppointments);
        Assert.Contains("\"startsAt\":\"" + startsAt.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss", System.Globalization.CultureInfo.InvariantCulture),
            await result.ReadAsTextAsync(), StringComparison.Ordinal);
        Assert.Equal([new Stored(admin.ClinicId!.Value, id, startsAt, endsAt, "Congreso")], await StoredAsync(id));
        Assert.Equal(["scheduled", "confirmed"], await App.QueryAsync<string>(
            "select status from appointments where id = any(@ids) order by starts_at desc", new { ids = new[] { inside, straddling } }));

        var audit = await LastAuditAsync(admin.ClinicId.Value, "doctor.time_off_create");
        Assert.NotNull(audit);
        Assert.Equal("doctor_time_off", audit.EntityType);
        Assert.Equal(timeOff.Id.ToString(), audit.EntityId);
        Assert.Equal(admin.UserId, audit.ActorId);
        using var changes = JsonDocument.Parse(audit.Changes);
        Assert.Equal(id, changes.RootElement.GetProperty("doctorId").GetGuid());
        Assert.Equal(["startsAt", "endsAt", "reason"], changes.RootElement.GetProperty("fields").EnumerateArray().Select(f => f.GetString()));
        Assert.DoesNotContain("Congreso", audit.Changes, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Records_time_off_of_up_to_366_days_without_a_reason()
    {
        var admin = await RegisterClinicAsync();
        var id = await InsertDoctorAsync(admin.ClinicId, active: false);

        var timeOff = await (await PostAsync(admin, id, new { startsAt = HoursAhead(1, 0), endsAt = HoursAhead(367, 0), reason = "" },
            HttpStatusCode.Created)).ReadAsJsonAsync<CreateTimeOff.Response>();

        Assert.Null(timeOff.Reason);
        Assert.Equal(0, timeOff.OverlappingAppointments);
        Assert.Equal([new Stored(admin.ClinicId!.Value, id, HoursAhead(1, 0), HoursAhead(367, 0), null)], await StoredAsync(id));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Post.Json(new { startsAt = HoursAhead(1, 0), endsAt = HoursAhead(2, 0) })
            .ToUrl($"/api/doctors/{Guid.CreateVersion7()}/time-off"));
    }

    [Theory]
    [InlineData("doctor")]
    [InlineData("staff")]
    public async Task Refuses_non_admins(string role)
    {
        await AssertRefusedForRoleAsync(role, s => s.Post.Json(new { startsAt = HoursAhead(1, 0), endsAt = HoursAhead(2, 0) })
            .ToUrl($"/api/doctors/{Guid.CreateVersion7()}/time-off"));
    }

    [Fact]
    public async Task Hides_another_clinics_doctor_and_records_nothing()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync("Other clinic");
        var theirs = await InsertDoctorAsync(other.ClinicId);

        var result = await PostAsync(admin, theirs, new { startsAt = HoursAhead(1, 0), endsAt = HoursAhead(2, 0) }, HttpStatusCode.NotFound);

        await ErrorAsync(result, ErrorCodes.NotFound);
        Assert.Empty(await StoredAsync(theirs));
        Assert.Null(await LastAuditAsync(admin.ClinicId!.Value, "doctor.time_off_create"));
    }

    [Fact]
    public async Task Rejects_an_end_not_after_the_start()
    {
        var admin = await RegisterClinicAsync();
        var id = await InsertDoctorAsync(admin.ClinicId);

        await AssertInvalidAsync("endsAt", s =>
        {
            s.Post.Json(new { startsAt = HoursAhead(2, 0), endsAt = HoursAhead(2, 0) }).ToUrl($"/api/doctors/{id}/time-off");
            s.WithBearerToken(admin.Token);
        });
        await AssertInvalidAsync("endsAt", s =>
        {
            s.Post.Json(new { startsAt = HoursAhead(2, 0), endsAt = HoursAhead(1, 0) }).ToUrl($"/api/doctors/{id}/time-off");
            s.WithBearerToken(admin.Token);
        });
        Assert.Empty(await StoredAsync(id));
    }

    [Fact]
    public async Task Rejects_time_off_longer_than_366_days()
    {
        var admin = await RegisterClinicAsync();
        var id = await InsertDoctorAsync(admin.ClinicId);

        await AssertInvalidAsync("endsAt", s =>
        {
            s.Post.Json(new { startsAt = HoursAhead(1, 0), endsAt = HoursAhead(367, 1) }).ToUrl($"/api/doctors/{id}/time-off");
            s.WithBearerToken(admin.Token);
        });
        Assert.Empty(await StoredAsync(id));
    }

    [Fact]
    public async Task Rejects_missing_instants_and_an_overlong_reason_with_details()
    {
        var admin = await RegisterClinicAsync();
        var id = await InsertDoctorAsync(admin.ClinicId);

        var error = await AssertInvalidAsync("startsAt", s =>
        {
            s.Post.Json(new { reason = new string('r', 501) }).ToUrl($"/api/doctors/{id}/time-off");
            s.WithBearerToken(admin.Token);
        });

        Assert.Equal(["endsAt", "reason", "startsAt"], error.Details!.Keys.Order(StringComparer.Ordinal));
    }
}
