using System.Net;
using ClinicFlow.Slices.Appointments;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Appointments;

/// <summary>
/// AppointmentReminders end to end: a reminder leaves when due through the fake Graph API with the
/// clinic's token and template; cancelling, a no-show, blocking and erasing drop the unsent ones.
/// </summary>
public sealed class AppointmentRemindersTests(AppFixture app) : WhatsAppTest(app)
{
    private Task<IReadOnlyList<(string Status, string Recipient, string Payload)>> RemindersAsync(Guid appointmentId) =>
        App.QueryAsync<(string Status, string Recipient, string Payload)>(
            "select status, recipient, payload::text from outbox_messages where appointment_id = @appointmentId and kind = 'reminder'",
            new { appointmentId });

    [Fact]
    public async Task Delivers_a_reminder_when_it_is_due_and_records_the_whatsapp_id()
    {
        var admin = await RegisterClinicAsync("Clínica Centro");
        var phoneNumberId = await EnableWhatsAppAsync(admin);
        await App.ExecuteAsync("update clinics set reminder_hours = '{24}', timezone = 'America/Argentina/Buenos_Aires' where id = @ClinicId",
            new { admin.ClinicId });
        var (doctorId, patientId) = await DoctorAndPatientAsync(admin);
        var startsAt = DateTimeOffset.UtcNow.AddHours(24).AddSeconds(10);

        var appointmentId = await BookAsync(admin, doctorId, patientId, startsAt);

        Assert.Equal("pending", Assert.Single(await RemindersAsync(appointmentId)).Status);
        Assert.Empty(App.Graph.RequestsFor(phoneNumberId));
        var sent = await App.Graph.WaitForAsync(r => r.PhoneNumberId == phoneNumberId, TimeSpan.FromSeconds(40));
        Assert.True(DateTimeOffset.UtcNow >= startsAt.AddHours(-24).AddSeconds(-1));
        Assert.Equal("Bearer " + AccessToken, sent.Authorization);
        Assert.Equal("5491122334455", sent.To);
        Assert.Equal(AppointmentReminders.Template, sent.TemplateName);
        var local = TimeZoneInfo.ConvertTime(startsAt, TimeZoneInfo.FindSystemTimeZoneById("America/Argentina/Buenos_Aires"));
        Assert.Equal(["María", "Clínica Centro", "Dra. Ana Gómez", AppointmentReminders.FormatDate(local, "es"), local.ToString("HH:mm",
            System.Globalization.CultureInfo.InvariantCulture)], sent.TemplateParameters);
        await WaitUntilAsync(async () => await App.ScalarAsync<string>(
            "select status from outbox_messages where appointment_id = @appointmentId", new { appointmentId }) == "sent", "reminder sent");
        Assert.Equal(sent.MessageId, await App.ScalarAsync<string>(
            "select provider_message_id from outbox_messages where appointment_id = @appointmentId", new { appointmentId }));
        Assert.Single(App.Graph.RequestsFor(phoneNumberId));
    }

    [Fact]
    public async Task A_cancelled_appointments_reminder_never_goes_out()
    {
        var admin = await RegisterClinicAsync();
        var phoneNumberId = await EnableWhatsAppAsync(admin);
        var (doctorId, patientId) = await DoctorAndPatientAsync(admin);
        var appointmentId = await BookAsync(admin, doctorId, patientId, HoursAhead(3, 15));

        await Host.Scenario(s =>
        {
            s.Patch.Json(new { status = "cancelled" }).ToUrl($"/api/appointments/{appointmentId}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        // Make them due now: only a cancelled status keeps them from leaving.
        await App.ExecuteAsync("update outbox_messages set next_attempt_at = now() where appointment_id = @appointmentId", new { appointmentId });
        await Task.Delay(1500, Ct);

        Assert.All(await RemindersAsync(appointmentId), r => Assert.Equal("cancelled", r.Status));
        Assert.Empty(App.Graph.RequestsFor(phoneNumberId));
    }

    [Fact]
    public async Task A_reminder_claimed_before_the_cancellation_is_not_sent()
    {
        var admin = await RegisterClinicAsync();
        var phoneNumberId = await EnableWhatsAppAsync(admin);
        var (doctorId, patientId) = await DoctorAndPatientAsync(admin);
        var appointmentId = await BookAsync(admin, doctorId, patientId, HoursAhead(3, 15));
        // The appointment is cancelled behind the sender's back (as by a request committing after the claim).
        await App.ExecuteAsync("update appointments set status = 'cancelled' where id = @appointmentId", new { appointmentId });

        await App.ExecuteAsync("update outbox_messages set next_attempt_at = now() where appointment_id = @appointmentId", new { appointmentId });
        await WaitUntilAsync(async () => (await RemindersAsync(appointmentId)).All(r => r.Status == "cancelled"), "reminders dropped by the sender");

        Assert.Empty(App.Graph.RequestsFor(phoneNumberId));
    }

    [Fact]
    public async Task A_no_show_drops_the_unsent_reminders()
    {
        var admin = await RegisterClinicAsync();
        await EnableWhatsAppAsync(admin);
        var (doctorId, patientId) = await DoctorAndPatientAsync(admin);
        var appointmentId = await BookAsync(admin, doctorId, patientId, HoursAhead(3, 15));
        await App.ExecuteAsync("update appointments set starts_at = now() - interval '10 minutes', ends_at = now() + interval '20 minutes' where id = @appointmentId",
            new { appointmentId });

        await Host.Scenario(s =>
        {
            s.Post.Json(new { status = "no_show" }).ToUrl($"/api/appointments/{appointmentId}/attendance");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        Assert.All(await RemindersAsync(appointmentId), r => Assert.Equal("cancelled", r.Status));
    }

    [Fact]
    public async Task Blocking_the_patient_drops_their_unsent_messages()
    {
        var admin = await RegisterClinicAsync();
        await EnableWhatsAppAsync(admin);
        var (doctorId, patientId) = await DoctorAndPatientAsync(admin);
        var appointmentId = await BookAsync(admin, doctorId, patientId, HoursAhead(3, 15));

        await Host.Scenario(s =>
        {
            s.Post.Json(new { reason = "Deuda" }).ToUrl($"/api/patients/{patientId}/block");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        Assert.All(await RemindersAsync(appointmentId), r => Assert.Equal("cancelled", r.Status));
    }

    [Fact]
    public async Task Erasure_cancels_queued_messages_and_keeps_no_number_or_text()
    {
        var admin = await RegisterClinicAsync();
        await EnableWhatsAppAsync(admin);
        var (doctorId, patientId) = await DoctorAndPatientAsync(admin);
        var appointmentId = await BookAsync(admin, doctorId, patientId, HoursAhead(3, 15));
        await App.ExecuteAsync("""
            update outbox_messages set status = 'sent', sent_at = now()
            where id = (select id from outbox_messages where appointment_id = @appointmentId order by due_at limit 1)
            """, new { appointmentId });

        await Host.Scenario(s =>
        {
            s.Delete.Url($"/api/patients/{patientId}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NoContent);
        });

        var rows = await App.QueryAsync<(string Status, string Recipient, string Payload)>(
            "select status, recipient, payload::text from outbox_messages where patient_id = @patientId order by due_at", new { patientId });
        Assert.Equal(["sent", "cancelled"], rows.Select(r => r.Status));
        Assert.All(rows, r =>
        {
            Assert.Equal("", r.Recipient);
            Assert.Equal("{}", r.Payload);
        });
    }

    [Fact]
    public async Task Every_occurrence_of_a_series_gets_reminders_that_follow_its_changes()
    {
        var admin = await RegisterClinicAsync();
        await EnableWhatsAppAsync(admin);
        var (doctorId, patientId) = await DoctorAndPatientAsync(admin);
        var zone = TimeZoneInfo.FindSystemTimeZoneById(await App.ScalarAsync<string>(
            "select timezone from clinics where id = @ClinicId", new { admin.ClinicId }));
        var startsAt = new DateTimeOffset(DateTime.UtcNow.Date.AddDays(3).AddHours(15), TimeSpan.Zero);
        var created = await Host.Scenario(s =>
        {
            s.Post.Json(new { doctorId, patientId, startsAt, durationMinutes = 30, recurrence = "FREQ=WEEKLY;COUNT=3", allowOutsideSchedule = true })
                .ToUrl("/api/appointments/series");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        var series = await created.ReadAsJsonAsync<CreateAppointmentSeries.Response>();
        var ids = series.Appointments.Select(a => a.Id).ToList();
        Assert.Equal(3, ids.Count);
        var perAppointment = (await RemindersAsync(ids[0])).Count;
        Assert.True(perAppointment > 0);
        foreach (var id in ids)
        {
            var queued = await RemindersAsync(id);
            Assert.Equal(perAppointment, queued.Count);
            Assert.All(queued, r => Assert.Equal(("pending", "+5491122334455"), (r.Status, r.Recipient)));
        }

        // This and following from the second: an hour later; their reminders follow, the first's stay.
        var second = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(series.Appointments[1].StartsAt, zone).DateTime);
        var laterLocal = TimeZoneInfo.ConvertTime(series.Appointments[1].StartsAt, zone).AddHours(1);
        await Host.Scenario(s =>
        {
            s.Patch.Json(new { from = second.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture),
                    time = laterLocal.ToString("HH:mm", System.Globalization.CultureInfo.InvariantCulture), allowOutsideSchedule = true })
                .ToUrl($"/api/appointments/series/{series.SeriesId}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        Assert.All(await RemindersAsync(ids[0]), r => Assert.Equal("pending", r.Status));
        foreach (var id in ids.Skip(1))
        {
            var reminders = await RemindersAsync(id);
            Assert.Equal(perAppointment, reminders.Count(r => r.Status == "cancelled"));
            var pending = reminders.Where(r => r.Status == "pending").ToList();
            Assert.Equal(perAppointment, pending.Count);
            Assert.All(pending, r => Assert.Contains(laterLocal.ToString("HH:mm", System.Globalization.CultureInfo.InvariantCulture), r.Payload,
                StringComparison.Ordinal));
        }

        // Cancelling from the third drops its unsent reminders only.
        var third = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(series.Appointments[2].StartsAt, zone).DateTime);
        await Host.Scenario(s =>
        {
            s.Delete.Url($"/api/appointments/series/{series.SeriesId}?from={third:yyyy-MM-dd}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        Assert.All(await RemindersAsync(ids[2]), r => Assert.Equal("cancelled", r.Status));
        Assert.Equal(perAppointment, (await RemindersAsync(ids[1])).Count(r => r.Status == "pending"));
    }
}
