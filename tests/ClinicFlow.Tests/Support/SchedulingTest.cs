using System.Net;

namespace ClinicFlow.Tests.Support;

/// <summary>
/// Base of the scheduling tests: arranges doctors, weekly hours, time off and appointments straight
/// in the database, so each slice's tests depend on nothing but the slice under test.
/// </summary>
public abstract class SchedulingTest(AppFixture app) : ApiTest(app)
{
    /// <summary>A clinic registered in <paramref name="country"/> with the given IANA zone.</summary>
    protected async Task<Account> RegisterClinicInZoneAsync(string timezone, string country = "AR")
    {
        var admin = await RegisterClinicAsync(country: country);
        await App.ExecuteAsync("update clinics set timezone = @timezone where id = @id", new { timezone, id = admin.ClinicId });
        return admin;
    }

    protected async Task<Guid> InsertDoctorAsync(Guid? clinicId, string fullName = "Dra. Ana Test", Guid? userId = null,
        int slotMinutes = 30, bool active = true)
    {
        var id = Guid.CreateVersion7();
        await App.ExecuteAsync("""
            insert into doctors (id, clinic_id, full_name, user_id, slot_minutes, active)
            values (@id, @clinicId, @fullName, @userId, @slotMinutes, @active)
            """, new { id, clinicId, fullName, userId, slotMinutes, active });
        return id;
    }

    /// <summary>Weekly hours as (ISO weekday, "HH:mm", "HH:mm") in the clinic's zone.</summary>
    protected async Task InsertWeeklyHoursAsync(Guid? clinicId, Guid doctorId, params (int Weekday, string Start, string End)[] ranges)
    {
        foreach (var (weekday, start, end) in ranges)
        {
            await App.ExecuteAsync("""
                insert into doctor_weekly_hours (clinic_id, doctor_id, weekday, starts_at, ends_at)
                values (@clinicId, @doctorId, @weekday, @start::time, @end::time)
                """, new { clinicId, doctorId, weekday = (short)weekday, start, end });
        }
    }

    /// <summary>Opens the doctor every day from 00:00 to 23:59, for tests that are not about hours.</summary>
    protected Task InsertAlwaysOpenAsync(Guid? clinicId, Guid doctorId) =>
        InsertWeeklyHoursAsync(clinicId, doctorId, Enumerable.Range(1, 7).Select(d => (d, "00:00", "23:59")).ToArray());

    protected async Task<Guid> InsertTimeOffAsync(Guid? clinicId, Guid doctorId, DateTimeOffset startsAt, DateTimeOffset endsAt,
        string? reason = null)
    {
        var id = Guid.CreateVersion7();
        await App.ExecuteAsync("""
            insert into doctor_time_off (id, clinic_id, doctor_id, starts_at, ends_at, reason)
            values (@id, @clinicId, @doctorId, @startsAt, @endsAt, @reason)
            """, new { id, clinicId, doctorId, startsAt, endsAt, reason });
        return id;
    }

    protected async Task<Guid> InsertAppointmentAsync(Guid? clinicId, Guid doctorId, Guid patientId, DateTimeOffset startsAt,
        DateTimeOffset endsAt, string status = "scheduled", string? reason = null)
    {
        var id = Guid.CreateVersion7();
        await App.ExecuteAsync("""
            insert into appointments (id, clinic_id, doctor_id, patient_id, starts_at, ends_at, status, reason)
            values (@id, @clinicId, @doctorId, @patientId, @startsAt, @endsAt, @status, @reason)
            """, new { id, clinicId, doctorId, patientId, startsAt, endsAt, status, reason });
        return id;
    }

    /// <summary>Registers a patient through the real API.</summary>
    protected async Task<Guid> CreatePatientAsync(Account account, string fullName = "Paciente Prueba", string? phone = null)
    {
        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new { fullName, phone }).ToUrl("/api/patients");
            s.WithBearerToken(account.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        return (await result.ReadAsJsonAsync<IdOnly>()).Id;
    }

    /// <summary>A whole hour in UTC some days ahead, so tests never book the past.</summary>
    protected static DateTimeOffset HoursAhead(int days, int hourUtc)
    {
        var day = DateTimeOffset.UtcNow.Date.AddDays(days);
        return new DateTimeOffset(day.AddHours(hourUtc), TimeSpan.Zero);
    }

    /// <summary>
    /// The next local date (after today) on which <paramref name="zone"/> changes its UTC offset in the
    /// given direction: a spring-forward (<paramref name="forward"/>) or a fall-back day. Computed from
    /// the zone's rules, so the tests keep working year after year.
    /// </summary>
    protected static DateOnly NextOffsetChange(string zone, bool forward)
    {
        var tz = TimeZoneInfo.FindSystemTimeZoneById(zone);
        var day = DateOnly.FromDateTime(DateTime.UtcNow).AddDays(2);
        for (var i = 0; i < 800; i++, day = day.AddDays(1))
        {
            // A spring-forward day lasts 23 hours, a fall-back day 25.
            var length = StartOfDay(tz, day.AddDays(1)) - StartOfDay(tz, day);
            if (forward ? length < TimeSpan.FromHours(24) : length > TimeSpan.FromHours(24))
            {
                return day;
            }
        }

        throw new InvalidOperationException($"{zone} has no offset change in the next two years.");
    }

    /// <summary>The first instant of a local date (midnight, or the end of a gap that swallowed it).</summary>
    protected static DateTimeOffset StartOfDay(TimeZoneInfo tz, DateOnly day)
    {
        var local = day.ToDateTime(TimeOnly.MinValue);
        while (tz.IsInvalidTime(local))
        {
            local = local.AddMinutes(1);
        }

        var offset = tz.IsAmbiguousTime(local) ? tz.GetAmbiguousTimeOffsets(local).Max() : tz.GetUtcOffset(local);
        return new DateTimeOffset(local, offset).ToUniversalTime();
    }

    private sealed record IdOnly(Guid Id);
}
