using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Appointments;
using ClinicFlow.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace ClinicFlow.Tests.Appointments;

/// <summary>
/// The one booking path (<see cref="AppointmentBooking"/>) as the WhatsApp worker calls it, on a
/// plain connection outside a request: each outcome, and what the database holds afterwards. Its
/// answers through HTTP are in CreateAppointmentTests.
/// </summary>
public sealed class AppointmentBookingTests(AppFixture app) : SchedulingTest(app)
{
    private async Task<(AppointmentBooking.Result Result, long Rows)> BookAsync(AppointmentBooking.Booking booking)
    {
        await using var system = await SystemConnection.BeginAsync(Host.Services.GetRequiredService<NpgsqlDataSource>(), Ct);
        var result = await AppointmentBooking.BookAsync(system.Connection, system.Transaction, booking, Ct);
        if (result.Outcome == AppointmentBooking.Outcome.Booked)
        {
            await system.Transaction.CommitAsync(Ct);
        }

        var rows = await App.ScalarAsync<long>("select count(*) from appointments where patient_id = @PatientId", new { booking.PatientId });
        return (result, rows);
    }

    private static AppointmentBooking.Booking Booking(Guid? clinicId, Guid doctorId, Guid patientId, DateTimeOffset startsAt,
        bool allowOutside = false) =>
        new(clinicId!.Value, doctorId, patientId, startsAt, startsAt.AddMinutes(30), "Control", null, allowOutside, null);

    [Fact]
    public async Task Books_inside_the_doctors_hours_and_refuses_a_double_booking()
    {
        var admin = await RegisterClinicAsync();
        var doctor = await InsertDoctorAsync(admin.ClinicId);
        await InsertAlwaysOpenAsync(admin.ClinicId, doctor);
        var first = await CreatePatientAsync(admin, "Primera Paciente");
        var second = await CreatePatientAsync(admin, "Segunda Paciente");
        var startsAt = HoursAhead(2, 14);

        var (booked, rows) = await BookAsync(Booking(admin.ClinicId, doctor, first, startsAt));
        var (overlap, otherRows) = await BookAsync(Booking(admin.ClinicId, doctor, second, startsAt.AddMinutes(15)));

        Assert.Equal((AppointmentBooking.Outcome.Booked, false, 1L), (booked.Outcome, booked.OutsideSchedule, rows));
        Assert.Equal(booked.Id, await App.ScalarAsync<Guid>("select id from appointments where patient_id = @first", new { first }));
        Assert.Equal((AppointmentBooking.Outcome.Overlap, 0L), (overlap.Outcome, otherRows));
    }

    [Fact]
    public async Task Refuses_outside_the_hours_unless_allowed_and_then_marks_it()
    {
        var admin = await RegisterClinicAsync();
        var doctor = await InsertDoctorAsync(admin.ClinicId);
        var patient = await CreatePatientAsync(admin);
        var startsAt = HoursAhead(2, 14);

        var (refused, none) = await BookAsync(Booking(admin.ClinicId, doctor, patient, startsAt));
        var (allowed, one) = await BookAsync(Booking(admin.ClinicId, doctor, patient, startsAt, allowOutside: true));

        Assert.Equal((AppointmentBooking.Outcome.OutsideSchedule, 0L), (refused.Outcome, none));
        Assert.Equal((AppointmentBooking.Outcome.Booked, true, 1L), (allowed.Outcome, allowed.OutsideSchedule, one));
        Assert.True(await App.ScalarAsync<bool>("select outside_schedule from appointments where id = @Id", new { allowed.Id }));
    }

    [Fact]
    public async Task Refuses_a_blocked_patient_an_inactive_doctor_and_another_clinics_patient()
    {
        var admin = await RegisterClinicAsync();
        var doctor = await InsertDoctorAsync(admin.ClinicId);
        await InsertAlwaysOpenAsync(admin.ClinicId, doctor);
        var blocked = await CreatePatientAsync(admin, "Paciente Bloqueada");
        await App.ExecuteAsync("update patients set blocked = true where id = @blocked", new { blocked });
        var patient = await CreatePatientAsync(admin);
        var other = await RegisterClinicAsync("Other clinic");
        var foreign = await CreatePatientAsync(other);
        var startsAt = HoursAhead(3, 14);

        var (blockedResult, blockedRows) = await BookAsync(Booking(admin.ClinicId, doctor, blocked, startsAt));
        var (foreignResult, foreignRows) = await BookAsync(Booking(admin.ClinicId, doctor, foreign, startsAt));
        await App.ExecuteAsync("update doctors set active = false where id = @doctor", new { doctor });
        var (inactiveResult, inactiveRows) = await BookAsync(Booking(admin.ClinicId, doctor, patient, startsAt));

        Assert.Equal((AppointmentBooking.Outcome.PatientBlocked, 0L), (blockedResult.Outcome, blockedRows));
        Assert.Equal((AppointmentBooking.Outcome.NotFound, 0L), (foreignResult.Outcome, foreignRows));
        Assert.Equal((AppointmentBooking.Outcome.DoctorInactive, 0L), (inactiveResult.Outcome, inactiveRows));
    }
}
