using System.Net;
using System.Text.Json;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Appointments;
using ClinicFlow.Tests.Support;
using Microsoft.AspNetCore.Http;

namespace ClinicFlow.Tests.Appointments;

public sealed class CreateAppointmentTests(AppFixture app) : SchedulingTest(app)
{
    private sealed record Stored(Guid DoctorId, Guid PatientId, DateTimeOffset StartsAt, DateTimeOffset EndsAt, string Status,
        string? Reason, string? Notes, bool OutsideSchedule, int Sequence, Guid? CreatedBy);

    private sealed record Clinic(Account Admin, Guid DoctorId, Guid PatientId);

    /// <summary>A clinic in UTC with one doctor open around the clock and one patient.</summary>
    private async Task<Clinic> ArrangeAsync()
    {
        var admin = await RegisterClinicInZoneAsync("Etc/UTC");
        var doctor = await InsertDoctorAsync(admin.ClinicId, "Dra. Ana Test");
        await InsertAlwaysOpenAsync(admin.ClinicId, doctor);
        var patient = await CreatePatientAsync(admin, "Pablo Paciente");
        return new Clinic(admin, doctor, patient);
    }

    private Task<IScenarioResult> PostAsync(Account? caller, object body, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Post.Json(body).ToUrl("/api/appointments");
            if (caller is not null)
            {
                s.WithBearerToken(caller.Token);
            }

            s.StatusCodeShouldBe(expected);
        });

    private static object Booking(Guid doctorId, Guid patientId, DateTimeOffset startsAt, int minutes = 30, bool? allowOutsideSchedule = null) =>
        new { doctorId, patientId, startsAt, durationMinutes = minutes, allowOutsideSchedule };

    private Task<IReadOnlyList<Stored>> StoredAsync(Guid? clinicId) =>
        App.QueryAsync<Stored>("""
            select doctor_id, patient_id, starts_at, ends_at, status, reason, notes, outside_schedule, sequence, created_by
            from appointments where clinic_id = @clinicId order by starts_at, id
            """, new { clinicId });

    [Fact]
    public async Task Books_a_free_slot_and_audits_it_without_the_texts()
    {
        var clinic = await ArrangeAsync();
        var staff = await AddUserAsync(clinic.Admin, "staff");
        var start = HoursAhead(2, 10);

        var result = await PostAsync(staff, new
        {
            doctorId = clinic.DoctorId, patientId = clinic.PatientId, startsAt = start, endsAt = start.AddMinutes(45),
            reason = "  Control de rutina ", notes = "Trae estudios",
        }, HttpStatusCode.Created);

        var appointment = await result.ReadAsJsonAsync<CreateAppointment.Response>();
        Assert.Equal($"/api/appointments/{appointment.Id}", result.Context.Response.Headers.Location.ToString());
        Assert.Equal(clinic.DoctorId, appointment.DoctorId);
        Assert.Equal(clinic.PatientId, appointment.PatientId);
        Assert.Equal(start, appointment.StartsAt);
        Assert.Equal(start.AddMinutes(45), appointment.EndsAt);
        Assert.Equal("scheduled", appointment.Status);
        Assert.Equal("Control de rutina", appointment.Reason);
        Assert.Equal("Trae estudios", appointment.Notes);
        Assert.False(appointment.OutsideSchedule);
        Assert.Equal(new CreateAppointment.Summary(clinic.DoctorId, "Dra. Ana Test"), appointment.Doctor);
        Assert.Equal(new CreateAppointment.Summary(clinic.PatientId, "Pablo Paciente"), appointment.Patient);
        Assert.Contains("\"startsAt\":\"" + start.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture),
            await result.ReadAsTextAsync(), StringComparison.Ordinal);

        var stored = Assert.Single(await StoredAsync(clinic.Admin.ClinicId));
        Assert.Equal(new Stored(clinic.DoctorId, clinic.PatientId, start, start.AddMinutes(45), "scheduled", "Control de rutina",
            "Trae estudios", false, 0, staff.UserId), stored);

        var audit = await LastAuditAsync(clinic.Admin.ClinicId!.Value, "appointment.create");
        Assert.NotNull(audit);
        Assert.Equal("appointment", audit.EntityType);
        Assert.Equal(appointment.Id.ToString(), audit.EntityId);
        Assert.Equal(staff.UserId, audit.ActorId);
        using var changes = JsonDocument.Parse(audit.Changes);
        Assert.Equal(clinic.DoctorId, changes.RootElement.GetProperty("doctorId").GetGuid());
        Assert.Equal(clinic.PatientId, changes.RootElement.GetProperty("patientId").GetGuid());
        Assert.Equal(["doctorId", "patientId", "startsAt", "endsAt", "reason", "notes"],
            changes.RootElement.GetProperty("fields").EnumerateArray().Select(f => f.GetString()));
        Assert.DoesNotContain("rutina", audit.Changes, StringComparison.Ordinal);
        Assert.DoesNotContain("estudios", audit.Changes, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Books_by_duration()
    {
        var clinic = await ArrangeAsync();
        var start = HoursAhead(3, 9);

        var appointment = await (await PostAsync(clinic.Admin, Booking(clinic.DoctorId, clinic.PatientId, start, 20), HttpStatusCode.Created))
            .ReadAsJsonAsync<CreateAppointment.Response>();

        Assert.Equal(start.AddMinutes(20), appointment.EndsAt);
        Assert.Equal(start.AddMinutes(20), Assert.Single(await StoredAsync(clinic.Admin.ClinicId)).EndsAt);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Post.Json(Booking(Guid.NewGuid(), Guid.NewGuid(), HoursAhead(2, 10))).ToUrl("/api/appointments"));
    }

    [Theory]
    [InlineData("doctorId")]
    [InlineData("patientId")]
    [InlineData("startsAt")]
    [InlineData("endsAt")]
    [InlineData("both")]
    [InlineData("backwards")]
    [InlineData("tooLong")]
    [InlineData("durationShort")]
    [InlineData("durationLong")]
    [InlineData("reason")]
    [InlineData("notes")]
    [InlineData("past")]
    public async Task Rejects_bad_input_with_details(string @case)
    {
        var clinic = await ArrangeAsync();
        var start = HoursAhead(2, 10);
        var d = clinic.DoctorId;
        var p = clinic.PatientId;
        var (field, body) = @case switch
        {
            "doctorId" => ("doctorId", (object)new { patientId = p, startsAt = start, durationMinutes = 30 }),
            "patientId" => ("patientId", new { doctorId = d, startsAt = start, durationMinutes = 30 }),
            "startsAt" => ("startsAt", new { doctorId = d, patientId = p, durationMinutes = 30 }),
            "endsAt" => ("endsAt", new { doctorId = d, patientId = p, startsAt = start }),
            "both" => ("endsAt", new { doctorId = d, patientId = p, startsAt = start, endsAt = start.AddMinutes(30), durationMinutes = 30 }),
            "backwards" => ("endsAt", new { doctorId = d, patientId = p, startsAt = start, endsAt = start }),
            "tooLong" => ("endsAt", new { doctorId = d, patientId = p, startsAt = start, endsAt = start.AddMinutes(721) }),
            "durationShort" => ("durationMinutes", Booking(d, p, start, 4)),
            "durationLong" => ("durationMinutes", Booking(d, p, start, 721)),
            "reason" => ("reason", new { doctorId = d, patientId = p, startsAt = start, durationMinutes = 30, reason = new string('r', 501) }),
            "notes" => ("notes", new { doctorId = d, patientId = p, startsAt = start, durationMinutes = 30, notes = new string('n', 4001) }),
            _ => ("startsAt", Booking(d, p, DateTimeOffset.UtcNow.AddMinutes(-5))),
        };

        await AssertInvalidAsync(field, s =>
        {
            s.Post.Json(body).ToUrl("/api/appointments");
            s.WithBearerToken(clinic.Admin.Token);
        });
        Assert.Empty(await StoredAsync(clinic.Admin.ClinicId));
    }

    [Fact]
    public async Task Refuses_a_doctor_and_patient_of_different_clinics_and_inserts_nothing()
    {
        var a = await ArrangeAsync();
        var b = await ArrangeAsync();
        var start = HoursAhead(2, 10);

        await ErrorAsync(await PostAsync(a.Admin, Booking(a.DoctorId, b.PatientId, start), HttpStatusCode.NotFound), ErrorCodes.NotFound);
        await ErrorAsync(await PostAsync(a.Admin, Booking(b.DoctorId, a.PatientId, start), HttpStatusCode.NotFound), ErrorCodes.NotFound);
        await ErrorAsync(await PostAsync(a.Admin, Booking(b.DoctorId, b.PatientId, start), HttpStatusCode.NotFound), ErrorCodes.NotFound);
        await ErrorAsync(await PostAsync(a.Admin, Booking(Guid.CreateVersion7(), a.PatientId, start), HttpStatusCode.NotFound), ErrorCodes.NotFound);

        Assert.Empty(await StoredAsync(a.Admin.ClinicId));
        Assert.Empty(await StoredAsync(b.Admin.ClinicId));
        Assert.Equal(0L, await App.ScalarAsync<long>("select count(*) from appointments where patient_id = any(@ids)",
            new { ids = new[] { a.PatientId, b.PatientId } }));
    }

    [Fact]
    public async Task Refuses_an_erased_patient_as_not_found()
    {
        var clinic = await ArrangeAsync();
        await App.ExecuteAsync("update patients set erased_at = now() where id = @id", new { id = clinic.PatientId });

        var result = await PostAsync(clinic.Admin, Booking(clinic.DoctorId, clinic.PatientId, HoursAhead(2, 10)), HttpStatusCode.NotFound);

        await ErrorAsync(result, ErrorCodes.NotFound);
        Assert.Empty(await StoredAsync(clinic.Admin.ClinicId));
    }

    [Fact]
    public async Task Refuses_a_blocked_patient()
    {
        var clinic = await ArrangeAsync();
        await App.ExecuteAsync("update patients set blocked = true, blocked_reason = 'x', blocked_at = now() where id = @id",
            new { id = clinic.PatientId });

        var result = await PostAsync(clinic.Admin, Booking(clinic.DoctorId, clinic.PatientId, HoursAhead(2, 10)), HttpStatusCode.Conflict);

        await ErrorAsync(result, ErrorCodes.PatientBlocked);
        Assert.Empty(await StoredAsync(clinic.Admin.ClinicId));
    }

    [Fact]
    public async Task Refuses_an_inactive_doctor()
    {
        var clinic = await ArrangeAsync();
        var inactive = await InsertDoctorAsync(clinic.Admin.ClinicId, "Dr. Inactivo", active: false);
        await InsertAlwaysOpenAsync(clinic.Admin.ClinicId, inactive);

        var result = await PostAsync(clinic.Admin, Booking(inactive, clinic.PatientId, HoursAhead(2, 10)), HttpStatusCode.Conflict);

        await ErrorAsync(result, ErrorCodes.Conflict);
        Assert.Empty(await StoredAsync(clinic.Admin.ClinicId));
    }

    [Fact]
    public async Task Refuses_outside_hours_unless_an_admin_allows_it()
    {
        var admin = await RegisterClinicInZoneAsync("Etc/UTC");
        var staff = await AddUserAsync(admin, "staff");
        var doctor = await InsertDoctorAsync(admin.ClinicId);
        await InsertWeeklyHoursAsync(admin.ClinicId, doctor, Enumerable.Range(1, 7).Select(d => (d, "09:00", "13:00")).ToArray());
        var patient = await CreatePatientAsync(admin);
        var late = HoursAhead(2, 14);

        await ErrorAsync(await PostAsync(staff, Booking(doctor, patient, late), HttpStatusCode.Conflict), ErrorCodes.Conflict);
        // Straddling the end of the hours is outside too.
        await ErrorAsync(await PostAsync(staff, Booking(doctor, patient, HoursAhead(2, 12).AddMinutes(45)), HttpStatusCode.Conflict),
            ErrorCodes.Conflict);
        await ErrorAsync(await PostAsync(staff, Booking(doctor, patient, late, allowOutsideSchedule: true), HttpStatusCode.Forbidden),
            ErrorCodes.Forbidden);
        Assert.Empty(await StoredAsync(admin.ClinicId));

        var booked = await (await PostAsync(admin, Booking(doctor, patient, late, allowOutsideSchedule: true), HttpStatusCode.Created))
            .ReadAsJsonAsync<CreateAppointment.Response>();
        var inside = await (await PostAsync(staff, Booking(doctor, patient, HoursAhead(2, 9)), HttpStatusCode.Created))
            .ReadAsJsonAsync<CreateAppointment.Response>();

        Assert.True(booked.OutsideSchedule);
        Assert.False(inside.OutsideSchedule);
        Assert.Equal([false, true], (await StoredAsync(admin.ClinicId)).Select(a => a.OutsideSchedule));
        using var changes = JsonDocument.Parse((await LastAuditAsync(admin.ClinicId!.Value, "appointment.create"))!.Changes);
        Assert.False(changes.RootElement.GetProperty("outsideSchedule").GetBoolean());
    }

    [Fact]
    public async Task Refuses_a_doctors_time_off()
    {
        var clinic = await ArrangeAsync();
        var start = HoursAhead(4, 10);
        await InsertTimeOffAsync(clinic.Admin.ClinicId, clinic.DoctorId, start.AddMinutes(-60), start.AddMinutes(15), "Congreso");

        var result = await PostAsync(clinic.Admin, Booking(clinic.DoctorId, clinic.PatientId, start), HttpStatusCode.Conflict);

        await ErrorAsync(result, ErrorCodes.Conflict);
        Assert.Empty(await StoredAsync(clinic.Admin.ClinicId));
        await PostAsync(clinic.Admin, Booking(clinic.DoctorId, clinic.PatientId, start.AddMinutes(15)), HttpStatusCode.Created);
    }

    [Fact]
    public async Task An_admin_may_record_a_past_appointment_outside_the_schedule()
    {
        var clinic = await ArrangeAsync();
        var past = HoursAhead(-2, 10);

        var booked = await (await PostAsync(clinic.Admin, Booking(clinic.DoctorId, clinic.PatientId, past, allowOutsideSchedule: true),
            HttpStatusCode.Created)).ReadAsJsonAsync<CreateAppointment.Response>();

        Assert.Equal(past, booked.StartsAt);
        Assert.False(booked.OutsideSchedule);
        Assert.Single(await StoredAsync(clinic.Admin.ClinicId));
    }

    [Fact]
    public async Task Books_adjacent_slots_and_refuses_an_overlapping_one()
    {
        var clinic = await ArrangeAsync();
        var other = await CreatePatientAsync(clinic.Admin, "Otra Paciente");
        var ten = HoursAhead(2, 10);

        await PostAsync(clinic.Admin, Booking(clinic.DoctorId, clinic.PatientId, ten), HttpStatusCode.Created);
        await PostAsync(clinic.Admin, Booking(clinic.DoctorId, other, ten.AddMinutes(30)), HttpStatusCode.Created);
        var overlap = await PostAsync(clinic.Admin, Booking(clinic.DoctorId, other, ten.AddMinutes(15)), HttpStatusCode.Conflict);

        await ErrorAsync(overlap, ErrorCodes.AppointmentConflict);
        Assert.Equal([ten, ten.AddMinutes(30)], (await StoredAsync(clinic.Admin.ClinicId)).Select(a => a.StartsAt));
    }

    [Fact]
    public async Task Another_doctor_may_be_booked_at_the_same_time()
    {
        var clinic = await ArrangeAsync();
        var second = await InsertDoctorAsync(clinic.Admin.ClinicId, "Dr. Segundo");
        await InsertAlwaysOpenAsync(clinic.Admin.ClinicId, second);
        var start = HoursAhead(2, 10);

        await PostAsync(clinic.Admin, Booking(clinic.DoctorId, clinic.PatientId, start), HttpStatusCode.Created);
        await PostAsync(clinic.Admin, Booking(second, clinic.PatientId, start), HttpStatusCode.Created);

        Assert.Equal(2, (await StoredAsync(clinic.Admin.ClinicId)).Count);
    }

    [Theory]
    [InlineData("cancelled")]
    [InlineData("no_show")]
    public async Task A_released_appointment_does_not_hold_its_slot(string status)
    {
        var clinic = await ArrangeAsync();
        var start = HoursAhead(2, 10);
        await InsertAppointmentAsync(clinic.Admin.ClinicId, clinic.DoctorId, clinic.PatientId, start, start.AddMinutes(30), status);

        await PostAsync(clinic.Admin, Booking(clinic.DoctorId, clinic.PatientId, start), HttpStatusCode.Created);

        Assert.Equal([status, "scheduled"], (await StoredAsync(clinic.Admin.ClinicId)).Select(a => a.Status).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Twenty_concurrent_bookings_of_one_slot_leave_exactly_one()
    {
        var clinic = await ArrangeAsync();
        var patients = new List<Guid>();
        for (var i = 0; i < 20; i++)
        {
            patients.Add(await CreatePatientAsync(clinic.Admin, $"Paciente {i}"));
        }

        var start = HoursAhead(5, 11);

        var results = await Task.WhenAll(patients.Select(patient => Host.Scenario(s =>
        {
            s.Post.Json(Booking(clinic.DoctorId, patient, start)).ToUrl("/api/appointments");
            s.WithBearerToken(clinic.Admin.Token);
            s.IgnoreStatusCode();
        })));

        var statuses = results.Select(r => r.Context.Response.StatusCode).ToList();
        Assert.Equal(1, statuses.Count(s => s == StatusCodes.Status201Created));
        Assert.Equal(19, statuses.Count(s => s == StatusCodes.Status409Conflict));
        foreach (var refused in results.Where(r => r.Context.Response.StatusCode == StatusCodes.Status409Conflict))
        {
            await ErrorAsync(refused, ErrorCodes.AppointmentConflict);
        }

        var stored = Assert.Single(await StoredAsync(clinic.Admin.ClinicId));
        var winner = await results.Single(r => r.Context.Response.StatusCode == StatusCodes.Status201Created)
            .ReadAsJsonAsync<CreateAppointment.Response>();
        Assert.Equal(winner.PatientId, stored.PatientId);
        Assert.Equal(1L, await App.ScalarAsync<long>(
            "select count(*) from audit_log where clinic_id = @ClinicId and action = 'appointment.create'", new { clinic.Admin.ClinicId }));
    }

    /// <summary>
    /// Overlapping but different slots booked at once: two inserts can each find the other's
    /// uncommitted row, which PostgreSQL resolves by failing one with a deadlock. Bookings of one
    /// doctor take turns, so every answer is a booking or a clean conflict, never a 500.
    /// </summary>
    [Fact]
    public async Task Concurrent_overlapping_bookings_end_as_bookings_or_conflicts_never_errors()
    {
        var clinic = await ArrangeAsync();
        var start = HoursAhead(6, 11);

        var results = await Task.WhenAll(Enumerable.Range(0, 24).Select(i => Host.Scenario(s =>
        {
            s.Post.Json(Booking(clinic.DoctorId, clinic.PatientId, start.AddMinutes(i % 12 * 10), 30)).ToUrl("/api/appointments");
            s.WithBearerToken(clinic.Admin.Token);
            s.IgnoreStatusCode();
        })));

        var statuses = results.Select(r => r.Context.Response.StatusCode).ToList();
        Assert.All(statuses, status => Assert.Contains(status, new[] { StatusCodes.Status201Created, StatusCodes.Status409Conflict }));
        var stored = (await StoredAsync(clinic.Admin.ClinicId)).ToList();
        Assert.Equal(statuses.Count(s => s == StatusCodes.Status201Created), stored.Count);
        Assert.InRange(stored.Count, 3, 4);
        for (var i = 1; i < stored.Count; i++)
        {
            Assert.True(stored[i - 1].EndsAt <= stored[i].StartsAt, "Two stored appointments overlap.");
        }
    }
}
