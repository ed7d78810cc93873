using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Appointments;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Appointments;

/// <summary>ListAppointmentNotifications: the reminders of an appointment with status and times.</summary>
public sealed class ListAppointmentNotificationsTests(AppFixture app) : WhatsAppTest(app)
{
    private async Task<Page<ListAppointmentNotifications.Response>> ListAsync(Account account, Guid appointmentId)
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url($"/api/appointments/{appointmentId}/notifications");
            s.WithBearerToken(account.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        return await result.ReadAsJsonAsync<Page<ListAppointmentNotifications.Response>>();
    }

    [Fact]
    public async Task Lists_the_reminders_a_booking_queued_24_and_2_hours_before()
    {
        var admin = await RegisterClinicAsync();
        await EnableWhatsAppAsync(admin);
        var (doctorId, patientId) = await DoctorAndPatientAsync(admin);
        var startsAt = HoursAhead(3, 15);
        var appointmentId = await BookAsync(admin, doctorId, patientId, startsAt);
        var staff = await AddUserAsync(admin, "staff");

        var page = await ListAsync(staff, appointmentId);

        Assert.Equal(2, page.Items.Count);
        Assert.All(page.Items, n =>
        {
            Assert.Equal("reminder", n.Kind);
            Assert.Equal("pending", n.Status);
            Assert.Equal("appointment_reminder", n.Template);
            Assert.Null(n.SentAt);
        });
        Assert.Equal([startsAt.AddHours(-24), startsAt.AddHours(-2)], page.Items.Select(n => n.DueAt!.Value).Order());
        Assert.Equal(2, await App.ScalarAsync<int>(
            "select count(*)::int from outbox_messages where appointment_id = @appointmentId and patient_id = @patientId and recipient = '+5491122334455'",
            new { appointmentId, patientId }));
    }

    [Fact]
    public async Task Does_not_queue_a_reminder_whose_time_has_passed_at_booking()
    {
        var admin = await RegisterClinicAsync();
        await EnableWhatsAppAsync(admin);
        var (doctorId, patientId) = await DoctorAndPatientAsync(admin);
        var startsAt = DateTimeOffset.UtcNow.AddHours(3);

        var page = await ListAsync(admin, await BookAsync(admin, doctorId, patientId, startsAt));

        var only = Assert.Single(page.Items);
        Assert.Equal(startsAt.AddHours(-2).ToUnixTimeSeconds(), only.DueAt!.Value.ToUnixTimeSeconds());
    }

    [Fact]
    public async Task Queues_nothing_without_whatsapp_or_without_a_phone()
    {
        var admin = await RegisterClinicAsync();
        var (doctorId, patientId) = await DoctorAndPatientAsync(admin);
        var withoutWhatsApp = await BookAsync(admin, doctorId, patientId, HoursAhead(3, 15));
        await EnableWhatsAppAsync(admin);
        var noPhone = await CreatePatientAsync(admin, "Sin Teléfono");
        var withoutPhone = await BookAsync(admin, doctorId, noPhone, HoursAhead(4, 15));

        Assert.Empty((await ListAsync(admin, withoutWhatsApp)).Items);
        Assert.Empty((await ListAsync(admin, withoutPhone)).Items);
    }

    [Fact]
    public async Task A_reschedule_drops_the_old_reminders_and_queues_new_ones()
    {
        var admin = await RegisterClinicAsync();
        await EnableWhatsAppAsync(admin);
        var (doctorId, patientId) = await DoctorAndPatientAsync(admin);
        var appointmentId = await BookAsync(admin, doctorId, patientId, HoursAhead(3, 15));
        var newStart = HoursAhead(5, 16);

        await Host.Scenario(s =>
        {
            s.Patch.Json(new { startsAt = newStart, allowOutsideSchedule = true }).ToUrl($"/api/appointments/{appointmentId}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var page = await ListAsync(admin, appointmentId);
        Assert.Equal(4, page.Items.Count);
        Assert.Equal(2, page.Items.Count(n => n.Status == "cancelled"));
        Assert.Equal([newStart.AddHours(-24), newStart.AddHours(-2)],
            page.Items.Where(n => n.Status == "pending").Select(n => n.DueAt!.Value).Order());
    }

    [Fact]
    public async Task Answers_404_for_another_clinics_appointment()
    {
        var other = await RegisterClinicAsync();
        await EnableWhatsAppAsync(other);
        var (doctorId, patientId) = await DoctorAndPatientAsync(other);
        var appointmentId = await BookAsync(other, doctorId, patientId, HoursAhead(3, 15));
        var admin = await RegisterClinicAsync();

        var result = await Host.Scenario(s =>
        {
            s.Get.Url($"/api/appointments/{appointmentId}/notifications");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });

        var text = await result.ReadAsTextAsync();
        Assert.DoesNotContain("reminder", text, StringComparison.Ordinal);
        await ErrorAsync(result, ErrorCodes.NotFound);
    }

    [Fact]
    public async Task Rejects_a_bad_limit()
    {
        var admin = await RegisterClinicAsync();
        await AssertInvalidAsync("limit", s =>
        {
            s.Get.Url($"/api/appointments/{Guid.NewGuid()}/notifications?limit=500");
            s.WithBearerToken(admin.Token);
        });
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Get.Url($"/api/appointments/{Guid.NewGuid()}/notifications"));
    }
}
