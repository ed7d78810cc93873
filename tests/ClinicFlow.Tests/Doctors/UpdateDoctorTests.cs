using System.Net;
using System.Text.Json;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Doctors;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Doctors;

public sealed class UpdateDoctorTests(AppFixture app) : SchedulingTest(app)
{
    private sealed record Stored(string FullName, string? Specialty, string? Email, string? Phone, Guid? UserId, bool Active, string? Color);

    private async Task<Stored> StoredAsync(Guid id) =>
        (await App.QueryAsync<Stored>(
            "select full_name, specialty, email::text as email, phone, user_id, active, color from doctors where id = @id",
            new { id })).Single();

    private Task<IScenarioResult> PatchAsync(Account caller, Guid id, object body, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Patch.Json(body).ToUrl($"/api/doctors/{id}");
            s.WithBearerToken(caller.Token);
            s.StatusCodeShouldBe(expected);
        });

    private async Task<Guid> InsertFullDoctorAsync(Guid? clinicId)
    {
        var id = await InsertDoctorAsync(clinicId, "Dra. Ana");
        await App.ExecuteAsync("""
            update doctors set specialty = 'Pediatría', email = 'ana@example.com', phone = '+5491122334455', color = '#111111'
            where id = @id
            """, new { id });
        return id;
    }

    private static string[] AuditedFields(AuditRow? audit)
    {
        Assert.NotNull(audit);
        using var changes = JsonDocument.Parse(audit.Changes);
        return [.. changes.RootElement.GetProperty("fields").EnumerateArray().Select(f => f.GetString()!)];
    }

    [Fact]
    public async Task Changes_the_given_fields_keeps_the_others_and_audits_field_names_only()
    {
        var admin = await RegisterClinicAsync();
        var id = await InsertFullDoctorAsync(admin.ClinicId);

        var result = await PatchAsync(admin, id, new { fullName = " Dra. Ana Gómez ", phone = "011 2233-4455", color = "#ABCDEF" },
            HttpStatusCode.OK);

        var doctor = await result.ReadAsJsonAsync<UpdateDoctor.Response>();
        Assert.Equal("Dra. Ana Gómez", doctor.FullName);
        Assert.Equal("+541122334455", doctor.Phone);
        Assert.Equal("#abcdef", doctor.Color);
        Assert.Equal("Pediatría", doctor.Specialty);
        Assert.Equal(new Stored("Dra. Ana Gómez", "Pediatría", "ana@example.com", "+541122334455", null, true, "#abcdef"), await StoredAsync(id));
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "doctor.update");
        Assert.Equal(id.ToString(), audit!.EntityId);
        Assert.Equal("doctor", audit.EntityType);
        Assert.Equal(["fullName", "phone", "color"], AuditedFields(audit));
        Assert.DoesNotContain("Gómez", audit.Changes, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Clears_optional_fields_with_an_empty_string()
    {
        var admin = await RegisterClinicAsync();
        var id = await InsertFullDoctorAsync(admin.ClinicId);

        await PatchAsync(admin, id, new { specialty = "", email = "", phone = "", color = "" }, HttpStatusCode.OK);

        Assert.Equal(new Stored("Dra. Ana", null, null, null, null, true, null), await StoredAsync(id));
        Assert.Equal(["specialty", "email", "phone", "color"], AuditedFields(await LastAuditAsync(admin.ClinicId!.Value, "doctor.update")));
    }

    [Fact]
    public async Task Writes_nothing_when_nothing_changes()
    {
        var admin = await RegisterClinicAsync();
        var id = await InsertFullDoctorAsync(admin.ClinicId);

        var doctor = await (await PatchAsync(admin, id, new { fullName = "Dra. Ana", color = "#111111" }, HttpStatusCode.OK))
            .ReadAsJsonAsync<UpdateDoctor.Response>();

        Assert.Equal("Dra. Ana", doctor.FullName);
        Assert.Null(await LastAuditAsync(admin.ClinicId!.Value, "doctor.update"));
    }

    [Fact]
    public async Task Deactivates_a_doctor_and_keeps_the_appointments()
    {
        var admin = await RegisterClinicAsync();
        var id = await InsertDoctorAsync(admin.ClinicId);
        var patient = await CreatePatientAsync(admin);
        var appointment = await InsertAppointmentAsync(admin.ClinicId, id, patient, HoursAhead(3, 14), HoursAhead(3, 15));

        var doctor = await (await PatchAsync(admin, id, new { active = false }, HttpStatusCode.OK)).ReadAsJsonAsync<UpdateDoctor.Response>();

        Assert.False(doctor.Active);
        Assert.False((await StoredAsync(id)).Active);
        Assert.Equal("scheduled", await App.ScalarAsync<string>("select status from appointments where id = @appointment", new { appointment }));
        Assert.Equal(["active"], AuditedFields(await LastAuditAsync(admin.ClinicId!.Value, "doctor.update")));
    }

    [Fact]
    public async Task Refuses_a_reactivation_at_the_plans_limit()
    {
        var admin = await RegisterClinicAsync();
        await App.ExecuteAsync("update clinics set plan = 'basic' where id = @ClinicId", new { admin.ClinicId });
        await InsertDoctorAsync(admin.ClinicId, "One");
        await InsertDoctorAsync(admin.ClinicId, "Two");
        var retired = await InsertDoctorAsync(admin.ClinicId, "Retired", active: false);

        var result = await PatchAsync(admin, retired, new { active = true, fullName = "Back" }, HttpStatusCode.Forbidden);

        await ErrorAsync(result, ErrorCodes.DoctorLimitReached);
        Assert.Equal(new Stored("Retired", null, null, null, null, false, null), await StoredAsync(retired));
        Assert.Null(await LastAuditAsync(admin.ClinicId!.Value, "doctor.update"));
    }

    [Fact]
    public async Task Reactivates_a_doctor_when_the_plan_has_room_and_edits_an_inactive_one_at_the_limit()
    {
        var admin = await RegisterClinicAsync();
        await App.ExecuteAsync("update clinics set plan = 'basic' where id = @ClinicId", new { admin.ClinicId });
        var one = await InsertDoctorAsync(admin.ClinicId, "One");
        await InsertDoctorAsync(admin.ClinicId, "Two");
        var retired = await InsertDoctorAsync(admin.ClinicId, "Retired", active: false);

        await PatchAsync(admin, retired, new { specialty = "Clínica" }, HttpStatusCode.OK);
        await PatchAsync(admin, one, new { active = false }, HttpStatusCode.OK);
        var doctor = await (await PatchAsync(admin, retired, new { active = true }, HttpStatusCode.OK)).ReadAsJsonAsync<UpdateDoctor.Response>();

        Assert.True(doctor.Active);
        Assert.Equal(new Stored("Retired", "Clínica", null, null, null, true, null), await StoredAsync(retired));
        await PatchAsync(admin, one, new { active = true }, HttpStatusCode.Forbidden);
        await PatchAsync(admin, retired, new { active = true }, HttpStatusCode.OK);
    }

    [Fact]
    public async Task Links_and_unlinks_a_doctor_user()
    {
        var admin = await RegisterClinicAsync();
        var user = await AddUserAsync(admin, "doctor");
        var id = await InsertDoctorAsync(admin.ClinicId);

        var linked = await (await PatchAsync(admin, id, new { userId = user.UserId }, HttpStatusCode.OK)).ReadAsJsonAsync<UpdateDoctor.Response>();
        Assert.Equal(user.UserId, linked.UserId);
        Assert.Equal(user.UserId, (await StoredAsync(id)).UserId);
        Assert.Equal(["userId"], AuditedFields(await LastAuditAsync(admin.ClinicId!.Value, "doctor.update")));

        var unlinked = await (await PatchAsync(admin, id, new { unlinkUser = true }, HttpStatusCode.OK)).ReadAsJsonAsync<UpdateDoctor.Response>();
        Assert.Null(unlinked.UserId);
        Assert.Null((await StoredAsync(id)).UserId);
    }

    [Fact]
    public async Task Refuses_user_id_and_unlink_together()
    {
        var admin = await RegisterClinicAsync();
        var user = await AddUserAsync(admin, "doctor");
        var id = await InsertDoctorAsync(admin.ClinicId);

        await AssertInvalidAsync("unlinkUser", s =>
        {
            s.Patch.Json(new { userId = user.UserId, unlinkUser = true }).ToUrl($"/api/doctors/{id}");
            s.WithBearerToken(admin.Token);
        });
        Assert.Null((await StoredAsync(id)).UserId);
    }

    [Fact]
    public async Task Hides_a_user_of_another_clinic()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync("Other clinic");
        var theirs = await AddUserAsync(other, "doctor");
        var id = await InsertDoctorAsync(admin.ClinicId);

        await ErrorAsync(await PatchAsync(admin, id, new { userId = theirs.UserId }, HttpStatusCode.NotFound), ErrorCodes.NotFound);

        Assert.Null((await StoredAsync(id)).UserId);
    }

    [Fact]
    public async Task Refuses_to_link_a_user_whose_role_is_not_doctor()
    {
        var admin = await RegisterClinicAsync();
        var staff = await AddUserAsync(admin, "staff");
        var id = await InsertDoctorAsync(admin.ClinicId);

        await AssertInvalidAsync("userId", s =>
        {
            s.Patch.Json(new { userId = staff.UserId }).ToUrl($"/api/doctors/{id}");
            s.WithBearerToken(admin.Token);
        });
        Assert.Null((await StoredAsync(id)).UserId);
    }

    [Fact]
    public async Task Refuses_a_user_already_linked_to_another_doctor()
    {
        var admin = await RegisterClinicAsync();
        var user = await AddUserAsync(admin, "doctor");
        await InsertDoctorAsync(admin.ClinicId, "Holder", userId: user.UserId);
        var id = await InsertDoctorAsync(admin.ClinicId, "Mover");

        await ErrorAsync(await PatchAsync(admin, id, new { userId = user.UserId }, HttpStatusCode.Conflict), ErrorCodes.AlreadyExists);

        Assert.Null((await StoredAsync(id)).UserId);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Patch.Json(new { fullName = "X" }).ToUrl($"/api/doctors/{Guid.CreateVersion7()}"));
    }

    [Theory]
    [InlineData("doctor")]
    [InlineData("staff")]
    public async Task Refuses_non_admins(string role)
    {
        await AssertRefusedForRoleAsync(role, s => s.Patch.Json(new { fullName = "X" }).ToUrl($"/api/doctors/{Guid.CreateVersion7()}"));
    }

    [Fact]
    public async Task Hides_another_clinics_doctor()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync("Other clinic");
        var theirs = await InsertDoctorAsync(other.ClinicId, "Theirs");

        var result = await PatchAsync(admin, theirs, new { fullName = "Mine now", active = false }, HttpStatusCode.NotFound);

        await ErrorAsync(result, ErrorCodes.NotFound);
        Assert.Equal(new Stored("Theirs", null, null, null, null, true, null), await StoredAsync(theirs));
    }

    [Fact]
    public async Task Rejects_bad_input_with_details()
    {
        var admin = await RegisterClinicAsync();
        var id = await InsertFullDoctorAsync(admin.ClinicId);

        var result = await PatchAsync(admin, id, new
        {
            fullName = "",
            specialty = new string('s', 201),
            email = "nope",
            color = "#12",
            userId = Guid.Empty,
        }, HttpStatusCode.BadRequest);

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Equal(["color", "email", "fullName", "specialty", "userId"], error.Details!.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("Dra. Ana", (await StoredAsync(id)).FullName);
    }

    [Fact]
    public async Task Rejects_a_phone_that_is_not_a_number()
    {
        var admin = await RegisterClinicAsync();
        var id = await InsertFullDoctorAsync(admin.ClinicId);

        await AssertInvalidAsync("phone", s =>
        {
            s.Patch.Json(new { phone = "abc" }).ToUrl($"/api/doctors/{id}");
            s.WithBearerToken(admin.Token);
        });
        Assert.Equal("+5491122334455", (await StoredAsync(id)).Phone);
    }
}
