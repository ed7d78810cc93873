using System.Net;
using System.Text.Json;
using ClinicFlow.Infrastructure;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Doctors;

/// <summary>DELETE /api/doctors/{id}/time-off/{timeOffId} (<see cref="ClinicFlow.Slices.Doctors.DeleteTimeOff"/>).</summary>
public sealed class DeleteTimeOffTests(AppFixture app) : SchedulingTest(app)
{
    private Task<IScenarioResult> DeleteAsync(Account caller, Guid doctorId, Guid timeOffId, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Delete.Url($"/api/doctors/{doctorId}/time-off/{timeOffId}");
            s.WithBearerToken(caller.Token);
            s.StatusCodeShouldBe(expected);
        });

    private Task<bool> ExistsAsync(Guid id) =>
        App.ScalarAsync<bool>("select exists (select 1 from doctor_time_off where id = @id)", new { id });

    [Fact]
    public async Task Removes_the_time_off_and_audits_it()
    {
        var admin = await RegisterClinicAsync();
        var id = await InsertDoctorAsync(admin.ClinicId);
        var timeOff = await InsertTimeOffAsync(admin.ClinicId, id, HoursAhead(2, 8), HoursAhead(3, 8), "Vacaciones");
        var kept = await InsertTimeOffAsync(admin.ClinicId, id, HoursAhead(9, 8), HoursAhead(10, 8));

        var result = await DeleteAsync(admin, id, timeOff, HttpStatusCode.NoContent);

        Assert.Empty(await result.ReadAsTextAsync());
        Assert.False(await ExistsAsync(timeOff));
        Assert.True(await ExistsAsync(kept));
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "doctor.time_off_delete");
        Assert.NotNull(audit);
        Assert.Equal("doctor_time_off", audit.EntityType);
        Assert.Equal(timeOff.ToString(), audit.EntityId);
        Assert.Equal(admin.UserId, audit.ActorId);
        using var changes = JsonDocument.Parse(audit.Changes);
        Assert.Equal(id, changes.RootElement.GetProperty("doctorId").GetGuid());
        Assert.DoesNotContain("Vacaciones", audit.Changes, StringComparison.Ordinal);

        await ErrorAsync(await DeleteAsync(admin, id, timeOff, HttpStatusCode.NotFound), ErrorCodes.NotFound);
    }

    [Fact]
    public async Task Hides_another_doctors_time_off()
    {
        var admin = await RegisterClinicAsync();
        var id = await InsertDoctorAsync(admin.ClinicId);
        var colleague = await InsertDoctorAsync(admin.ClinicId);
        var theirs = await InsertTimeOffAsync(admin.ClinicId, colleague, HoursAhead(2, 8), HoursAhead(3, 8));

        await ErrorAsync(await DeleteAsync(admin, id, theirs, HttpStatusCode.NotFound), ErrorCodes.NotFound);

        Assert.True(await ExistsAsync(theirs));
    }

    [Fact]
    public async Task Hides_another_clinics_time_off()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync("Other clinic");
        var theirDoctor = await InsertDoctorAsync(other.ClinicId);
        var theirs = await InsertTimeOffAsync(other.ClinicId, theirDoctor, HoursAhead(2, 8), HoursAhead(3, 8));

        await ErrorAsync(await DeleteAsync(admin, theirDoctor, theirs, HttpStatusCode.NotFound), ErrorCodes.NotFound);

        Assert.True(await ExistsAsync(theirs));
        Assert.Null(await LastAuditAsync(admin.ClinicId!.Value, "doctor.time_off_delete"));
        Assert.Null(await LastAuditAsync(other.ClinicId!.Value, "doctor.time_off_delete"));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Delete.Url($"/api/doctors/{Guid.CreateVersion7()}/time-off/{Guid.CreateVersion7()}"));
    }

    [Theory]
    [InlineData("doctor")]
    [InlineData("staff")]
    public async Task Refuses_non_admins(string role)
    {
        await AssertRefusedForRoleAsync(role, s => s.Delete.Url($"/api/doctors/{Guid.CreateVersion7()}/time-off/{Guid.CreateVersion7()}"));
    }
}
