using System.Net;
using System.Text.Json;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Appointments;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Appointments;

public sealed class UpdateAppointmentTests(AppFixture app) : SchedulingTest(app)
{
    private static readonly string[] Statuses = ["scheduled", "confirmed", "checked_in", "completed", "cancelled", "no_show"];

    // SPEC's machine, plus the walk-in check-in of an unconfirmed appointment.
    private static readonly HashSet<(string, string)> Allowed =
    [
        ("scheduled", "confirmed"), ("scheduled", "checked_in"), ("confirmed", "checked_in"), ("checked_in", "completed"),
        ("scheduled", "cancelled"), ("confirmed", "cancelled"), ("scheduled", "no_show"), ("confirmed", "no_show"),
    ];

    public static TheoryData<string, string> Moves()
    {
        var data = new TheoryData<string, string>();
        foreach (var from in Statuses)
        {
            foreach (var to in Statuses)
            {
                data.Add(from, to);
            }
        }

        return data;
    }

    private sealed record Stored(Guid DoctorId, DateTimeOffset StartsAt, DateTimeOffset EndsAt, string Status, string? Reason,
        string? Notes, bool OutsideSchedule, int Sequence, DateTimeOffset UpdatedAt, DateTimeOffset StatusChangedAt);

    private sealed record Clinic(Account Admin, Guid DoctorId, Guid PatientId);

    private async Task<Clinic> ArrangeAsync()
    {
        var admin = await RegisterClinicInZoneAsync("Etc/UTC");
        var doctor = await InsertDoctorAsync(admin.ClinicId, "Dra. Ana Test");
        await InsertAlwaysOpenAsync(admin.ClinicId, doctor);
        var patient = await CreatePatientAsync(admin, "Pablo Paciente");
        return new Clinic(admin, doctor, patient);
    }

    private Task<IScenarioResult> PatchAsync(Account? caller, Guid id, object body, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Patch.Json(body).ToUrl($"/api/appointments/{id}");
            if (caller is not null)
            {
                s.WithBearerToken(caller.Token);
            }

            s.StatusCodeShouldBe(expected);
        });

    private async Task<Stored> StoredAsync(Guid id) => (await App.QueryAsync<Stored>("""
        select doctor_id, starts_at, ends_at, status, reason, notes, outside_schedule, sequence, updated_at, status_changed_at
        from appointments where id = @id
        """, new { id })).Single();

    private static JsonElement Changes(AuditRow? audit)
    {
        Assert.NotNull(audit);
        using var document = JsonDocument.Parse(audit.Changes);
        return document.RootElement.Clone();
    }

    private static string[] Fields(JsonElement changes) =>
        changes.GetProperty("fields").EnumerateArray().Select(f => f.GetString()!).ToArray();

    /// <summary>Today (UTC, the clinic's zone here) and already begun: both check-in and no-show are allowed on it.</summary>
    private static DateTimeOffset JustBegun()
    {
        var now = DateTimeOffset.UtcNow;
        var minuteAgo = now.AddMinutes(-1);
        var today = new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero);
        return minuteAgo < today ? today : minuteAgo;
    }

    [Fact]
    public async Task Moves_the_start_keeping_the_duration_and_audits_a_reschedule()
    {
        var clinic = await ArrangeAsync();
        var staff = await AddUserAsync(clinic.Admin, "staff");
        var start = HoursAhead(2, 10);
        var id = await InsertAppointmentAsync(clinic.Admin.ClinicId, clinic.DoctorId, clinic.PatientId, start, start.AddMinutes(45));
        var before = await StoredAsync(id);

        var appointment = await (await PatchAsync(staff, id, new { startsAt = HoursAhead(3, 14) }, HttpStatusCode.OK))
            .ReadAsJsonAsync<UpdateAppointment.Response>();

        Assert.Equal(HoursAhead(3, 14), appointment.StartsAt);
        Assert.Equal(HoursAhead(3, 14).AddMinutes(45), appointment.EndsAt);
        Assert.Equal("scheduled", appointment.Status);
        Assert.Equal(new UpdateAppointment.Summary(clinic.PatientId, "Pablo Paciente"), appointment.Patient);
        var stored = await StoredAsync(id);
        Assert.Equal((HoursAhead(3, 14), HoursAhead(3, 14).AddMinutes(45), 1), (stored.StartsAt, stored.EndsAt, stored.Sequence));
        Assert.True(stored.UpdatedAt > before.UpdatedAt);
        Assert.Equal(before.StatusChangedAt, stored.StatusChangedAt);
        var audit = await LastAuditAsync(clinic.Admin.ClinicId!.Value, "appointment.reschedule");
        Assert.Equal(staff.UserId, audit!.ActorId);
        Assert.Equal(id.ToString(), audit.EntityId);
        Assert.Equal(["startsAt", "endsAt"], Fields(Changes(audit)));
    }

    [Fact]
    public async Task Changes_the_length_and_the_doctor()
    {
        var clinic = await ArrangeAsync();
        var second = await InsertDoctorAsync(clinic.Admin.ClinicId, "Dr. Segundo");
        await InsertAlwaysOpenAsync(clinic.Admin.ClinicId, second);
        var start = HoursAhead(2, 10);
        var id = await InsertAppointmentAsync(clinic.Admin.ClinicId, clinic.DoctorId, clinic.PatientId, start, start.AddMinutes(30));

        var appointment = await (await PatchAsync(clinic.Admin, id, new { durationMinutes = 60, doctorId = second }, HttpStatusCode.OK))
            .ReadAsJsonAsync<UpdateAppointment.Response>();
        await PatchAsync(clinic.Admin, id, new { endsAt = start.AddMinutes(50) }, HttpStatusCode.OK);

        Assert.Equal(start.AddMinutes(60), appointment.EndsAt);
        Assert.Equal(new UpdateAppointment.Summary(second, "Dr. Segundo"), appointment.Doctor);
        var stored = await StoredAsync(id);
        Assert.Equal((second, start, start.AddMinutes(50), 2), (stored.DoctorId, stored.StartsAt, stored.EndsAt, stored.Sequence));
        var changes = Changes(await LastAuditAsync(clinic.Admin.ClinicId!.Value, "appointment.reschedule"));
        Assert.Equal(["endsAt"], Fields(changes));
        Assert.Equal(second, changes.GetProperty("toDoctorId").GetGuid());
    }

    [Fact]
    public async Task Edits_reason_and_notes_in_any_status_audited_by_name_only()
    {
        var clinic = await ArrangeAsync();
        var start = HoursAhead(-1, 10);
        var id = await InsertAppointmentAsync(clinic.Admin.ClinicId, clinic.DoctorId, clinic.PatientId, start, start.AddMinutes(30),
            "completed", "Dolor de muela");

        var appointment = await (await PatchAsync(clinic.Admin, id, new { reason = "", notes = "Se indicó radiografía" }, HttpStatusCode.OK))
            .ReadAsJsonAsync<UpdateAppointment.Response>();

        Assert.Null(appointment.Reason);
        Assert.Equal("Se indicó radiografía", appointment.Notes);
        var stored = await StoredAsync(id);
        Assert.Equal((null, "Se indicó radiografía", 1, "completed"), (stored.Reason, stored.Notes, stored.Sequence, stored.Status));
        var audit = await LastAuditAsync(clinic.Admin.ClinicId!.Value, "appointment.update");
        Assert.Equal(["reason", "notes"], Fields(Changes(audit)));
        Assert.DoesNotContain("radiograf", audit!.Changes, StringComparison.Ordinal);
        Assert.DoesNotContain("muela", audit.Changes, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unchanged_patch_changes_nothing()
    {
        var clinic = await ArrangeAsync();
        var start = HoursAhead(2, 10);
        var id = await InsertAppointmentAsync(clinic.Admin.ClinicId, clinic.DoctorId, clinic.PatientId, start, start.AddMinutes(30),
            reason: "Control");
        var before = await StoredAsync(id);

        var appointment = await (await PatchAsync(clinic.Admin, id,
            new { startsAt = start, durationMinutes = 30, doctorId = clinic.DoctorId, reason = "Control", status = "scheduled" }, HttpStatusCode.OK))
            .ReadAsJsonAsync<UpdateAppointment.Response>();

        Assert.Equal(id, appointment.Id);
        Assert.Equal(before, await StoredAsync(id));
        Assert.Null(await LastAuditAsync(clinic.Admin.ClinicId!.Value, "appointment.reschedule"));
        Assert.Null(await LastAuditAsync(clinic.Admin.ClinicId!.Value, "appointment.update"));
        Assert.Null(await LastAuditAsync(clinic.Admin.ClinicId!.Value, "appointment.status"));
    }

    [Fact]
    public async Task Cancelling_frees_the_slot()
    {
        var clinic = await ArrangeAsync();
        var other = await CreatePatientAsync(clinic.Admin, "Otra");
        var booking = new { doctorId = clinic.DoctorId, patientId = clinic.PatientId, startsAt = HoursAhead(2, 10), durationMinutes = 30 };
        var first = await (await Host.Scenario(s =>
        {
            s.Post.Json(booking).ToUrl("/api/appointments");
            s.WithBearerToken(clinic.Admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        })).ReadAsJsonAsync<CreateAppointment.Response>();
        var before = await StoredAsync(first.Id);

        var cancelled = await (await PatchAsync(clinic.Admin, first.Id, new { status = "cancelled" }, HttpStatusCode.OK))
            .ReadAsJsonAsync<UpdateAppointment.Response>();
        await Host.Scenario(s =>
        {
            s.Post.Json(booking with { patientId = other }).ToUrl("/api/appointments");
            s.WithBearerToken(clinic.Admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });

        Assert.Equal("cancelled", cancelled.Status);
        var stored = await StoredAsync(first.Id);
        Assert.Equal(("cancelled", 1), (stored.Status, stored.Sequence));
        Assert.True(stored.StatusChangedAt > before.StatusChangedAt);
        var changes = Changes(await LastAuditAsync(clinic.Admin.ClinicId!.Value, "appointment.cancel"));
        Assert.Equal("scheduled", changes.GetProperty("from").GetString());
        Assert.Equal(2L, await App.ScalarAsync<long>("select count(*) from appointments where clinic_id = @ClinicId", new { clinic.Admin.ClinicId }));
    }

    [Theory]
    [MemberData(nameof(Moves))]
    public async Task Follows_the_status_machine(string from, string to)
    {
        var clinic = await ArrangeAsync();
        var start = JustBegun();
        var id = await InsertAppointmentAsync(clinic.Admin.ClinicId, clinic.DoctorId, clinic.PatientId, start, start.AddMinutes(30), from);

        if (from == to)
        {
            await PatchAsync(clinic.Admin, id, new { status = to }, HttpStatusCode.OK);
            Assert.Equal((from, 0), ((await StoredAsync(id)).Status, (await StoredAsync(id)).Sequence));
        }
        else if (Allowed.Contains((from, to)))
        {
            var appointment = await (await PatchAsync(clinic.Admin, id, new { status = to }, HttpStatusCode.OK))
                .ReadAsJsonAsync<UpdateAppointment.Response>();
            Assert.Equal(to, appointment.Status);
            Assert.Equal((to, 1), ((await StoredAsync(id)).Status, (await StoredAsync(id)).Sequence));
            var changes = Changes(await LastAuditAsync(clinic.Admin.ClinicId!.Value, to == "cancelled" ? "appointment.cancel" : "appointment.status"));
            Assert.Equal((from, to), (changes.GetProperty("from").GetString(), changes.GetProperty("to").GetString()));
        }
        else
        {
            var error = await ErrorAsync(await PatchAsync(clinic.Admin, id, new { status = to }, HttpStatusCode.Conflict), ErrorCodes.InvalidState);
            Assert.Contains(to, error.Error, StringComparison.Ordinal);
            Assert.Equal((from, 0), ((await StoredAsync(id)).Status, (await StoredAsync(id)).Sequence));
        }
    }

    [Fact]
    public async Task Refuses_a_no_show_before_the_start_and_a_check_in_on_another_day()
    {
        var clinic = await ArrangeAsync();
        var start = HoursAhead(2, 10);
        var id = await InsertAppointmentAsync(clinic.Admin.ClinicId, clinic.DoctorId, clinic.PatientId, start, start.AddMinutes(30));

        await ErrorAsync(await PatchAsync(clinic.Admin, id, new { status = "no_show" }, HttpStatusCode.Conflict), ErrorCodes.InvalidState);
        await ErrorAsync(await PatchAsync(clinic.Admin, id, new { status = "checked_in" }, HttpStatusCode.Conflict), ErrorCodes.InvalidState);

        Assert.Equal(("scheduled", 0), ((await StoredAsync(id)).Status, (await StoredAsync(id)).Sequence));
    }

    [Fact]
    public async Task Rescheduling_into_a_conflict_leaves_the_row_unchanged()
    {
        var clinic = await ArrangeAsync();
        var start = HoursAhead(2, 10);
        await InsertAppointmentAsync(clinic.Admin.ClinicId, clinic.DoctorId, clinic.PatientId, start, start.AddMinutes(30));
        var id = await InsertAppointmentAsync(clinic.Admin.ClinicId, clinic.DoctorId, clinic.PatientId, start.AddHours(2), start.AddHours(2.5));
        var before = await StoredAsync(id);

        var result = await PatchAsync(clinic.Admin, id, new { startsAt = start.AddMinutes(15), notes = "moved" }, HttpStatusCode.Conflict);

        await ErrorAsync(result, ErrorCodes.AppointmentConflict);
        Assert.Equal(before, await StoredAsync(id));
        Assert.Null(await LastAuditAsync(clinic.Admin.ClinicId!.Value, "appointment.reschedule"));
        // Right after the other one is free.
        await PatchAsync(clinic.Admin, id, new { startsAt = start.AddMinutes(30) }, HttpStatusCode.OK);
    }

    [Fact]
    public async Task Rescheduling_outside_hours_needs_an_admin_who_allows_it()
    {
        var admin = await RegisterClinicInZoneAsync("Etc/UTC");
        var staff = await AddUserAsync(admin, "staff");
        var doctor = await InsertDoctorAsync(admin.ClinicId);
        await InsertWeeklyHoursAsync(admin.ClinicId, doctor, Enumerable.Range(1, 7).Select(d => (d, "09:00", "13:00")).ToArray());
        var patient = await CreatePatientAsync(admin);
        var id = await InsertAppointmentAsync(admin.ClinicId, doctor, patient, HoursAhead(2, 9), HoursAhead(2, 10));

        await ErrorAsync(await PatchAsync(staff, id, new { startsAt = HoursAhead(2, 15) }, HttpStatusCode.Conflict), ErrorCodes.Conflict);
        await ErrorAsync(await PatchAsync(staff, id, new { startsAt = HoursAhead(2, 15), allowOutsideSchedule = true }, HttpStatusCode.Forbidden),
            ErrorCodes.Forbidden);
        Assert.Equal((HoursAhead(2, 9), 0), ((await StoredAsync(id)).StartsAt, (await StoredAsync(id)).Sequence));

        var outside = await (await PatchAsync(admin, id, new { startsAt = HoursAhead(2, 15), allowOutsideSchedule = true }, HttpStatusCode.OK))
            .ReadAsJsonAsync<UpdateAppointment.Response>();
        Assert.True(outside.OutsideSchedule);
        Assert.True((await StoredAsync(id)).OutsideSchedule);

        var back = await (await PatchAsync(staff, id, new { startsAt = HoursAhead(2, 11) }, HttpStatusCode.OK))
            .ReadAsJsonAsync<UpdateAppointment.Response>();
        Assert.False(back.OutsideSchedule);
        Assert.Equal((false, 2), ((await StoredAsync(id)).OutsideSchedule, (await StoredAsync(id)).Sequence));
    }

    [Fact]
    public async Task Refuses_rescheduling_into_time_off_or_the_past()
    {
        var clinic = await ArrangeAsync();
        var start = HoursAhead(2, 10);
        var id = await InsertAppointmentAsync(clinic.Admin.ClinicId, clinic.DoctorId, clinic.PatientId, start, start.AddMinutes(30));
        await InsertTimeOffAsync(clinic.Admin.ClinicId, clinic.DoctorId, HoursAhead(3, 0), HoursAhead(4, 0));
        var before = await StoredAsync(id);

        await ErrorAsync(await PatchAsync(clinic.Admin, id, new { startsAt = HoursAhead(3, 10) }, HttpStatusCode.Conflict), ErrorCodes.Conflict);
        await AssertInvalidAsync("startsAt", s =>
        {
            s.Patch.Json(new { startsAt = HoursAhead(-1, 10) }).ToUrl($"/api/appointments/{id}");
            s.WithBearerToken(clinic.Admin.Token);
        });

        Assert.Equal(before, await StoredAsync(id));
    }

    [Fact]
    public async Task Refuses_an_inactive_or_unknown_doctor_and_a_blocked_patient()
    {
        var clinic = await ArrangeAsync();
        var other = await RegisterClinicAsync("Other clinic");
        var theirDoctor = await InsertDoctorAsync(other.ClinicId);
        var inactive = await InsertDoctorAsync(clinic.Admin.ClinicId, "Dr. Inactivo", active: false);
        await InsertAlwaysOpenAsync(clinic.Admin.ClinicId, inactive);
        var start = HoursAhead(2, 10);
        var id = await InsertAppointmentAsync(clinic.Admin.ClinicId, clinic.DoctorId, clinic.PatientId, start, start.AddMinutes(30));
        var before = await StoredAsync(id);

        await ErrorAsync(await PatchAsync(clinic.Admin, id, new { doctorId = inactive }, HttpStatusCode.Conflict), ErrorCodes.Conflict);
        await ErrorAsync(await PatchAsync(clinic.Admin, id, new { doctorId = theirDoctor }, HttpStatusCode.NotFound), ErrorCodes.NotFound);
        await App.ExecuteAsync("update patients set blocked = true where id = @id", new { id = clinic.PatientId });
        await ErrorAsync(await PatchAsync(clinic.Admin, id, new { startsAt = start.AddHours(1) }, HttpStatusCode.Conflict), ErrorCodes.PatientBlocked);

        Assert.Equal(before, await StoredAsync(id));
        // The blocked patient's existing appointment can still be annotated or cancelled.
        await PatchAsync(clinic.Admin, id, new { notes = "Bloqueado", status = "cancelled" }, HttpStatusCode.OK);
    }

    [Theory]
    [InlineData("cancelled", null)]
    [InlineData("completed", null)]
    [InlineData("checked_in", null)]
    [InlineData("scheduled", "cancelled")]
    public async Task Refuses_to_reschedule_what_no_longer_holds_a_slot(string status, string? alsoTo)
    {
        var clinic = await ArrangeAsync();
        var start = HoursAhead(2, 10);
        var id = await InsertAppointmentAsync(clinic.Admin.ClinicId, clinic.DoctorId, clinic.PatientId, start, start.AddMinutes(30), status);
        var before = await StoredAsync(id);

        var result = await PatchAsync(clinic.Admin, id, new { startsAt = start.AddHours(1), status = alsoTo }, HttpStatusCode.Conflict);

        await ErrorAsync(result, ErrorCodes.InvalidState);
        Assert.Equal(before, await StoredAsync(id));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Patch.Json(new { notes = "x" }).ToUrl($"/api/appointments/{Guid.CreateVersion7()}"));
    }

    [Fact]
    public async Task Hides_another_clinics_appointment()
    {
        var clinic = await ArrangeAsync();
        var other = await ArrangeAsync();
        var start = HoursAhead(2, 10);
        var theirs = await InsertAppointmentAsync(other.Admin.ClinicId, other.DoctorId, other.PatientId, start, start.AddMinutes(30));
        var before = await StoredAsync(theirs);

        await ErrorAsync(await PatchAsync(clinic.Admin, theirs, new { status = "cancelled" }, HttpStatusCode.NotFound), ErrorCodes.NotFound);
        await ErrorAsync(await PatchAsync(clinic.Admin, theirs, new { startsAt = start.AddHours(1) }, HttpStatusCode.NotFound), ErrorCodes.NotFound);

        Assert.Equal(before, await StoredAsync(theirs));
    }

    [Theory]
    [InlineData("both", "endsAt")]
    [InlineData("backwards", "endsAt")]
    [InlineData("durationShort", "durationMinutes")]
    [InlineData("durationLong", "durationMinutes")]
    [InlineData("status", "status")]
    [InlineData("reason", "reason")]
    [InlineData("notes", "notes")]
    [InlineData("doctorId", "doctorId")]
    public async Task Rejects_bad_input_with_details(string @case, string field)
    {
        var clinic = await ArrangeAsync();
        var start = HoursAhead(2, 10);
        var id = await InsertAppointmentAsync(clinic.Admin.ClinicId, clinic.DoctorId, clinic.PatientId, start, start.AddMinutes(30));
        var before = await StoredAsync(id);
        object body = @case switch
        {
            "both" => new { endsAt = start.AddMinutes(40), durationMinutes = 40 },
            "backwards" => new { endsAt = start.AddMinutes(-5) },
            "durationShort" => new { durationMinutes = 4 },
            "durationLong" => new { durationMinutes = 721 },
            "status" => new { status = "done" },
            "reason" => new { reason = new string('r', 501) },
            "notes" => new { notes = new string('n', 4001) },
            _ => new { doctorId = Guid.Empty },
        };

        await AssertInvalidAsync(field, s =>
        {
            s.Patch.Json(body).ToUrl($"/api/appointments/{id}");
            s.WithBearerToken(clinic.Admin.Token);
        });
        Assert.Equal(before, await StoredAsync(id));
    }
}
