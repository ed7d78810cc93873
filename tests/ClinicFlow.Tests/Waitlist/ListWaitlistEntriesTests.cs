using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Waitlist;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Waitlist;

/// <summary>GET /api/waitlist (<see cref="ListWaitlistEntries"/>).</summary>
public sealed class ListWaitlistEntriesTests(AppFixture app) : WaitlistTest(app)
{
    private async Task<Page<ListWaitlistEntries.Response>> ListAsync(Account caller, string query = "")
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/waitlist" + query);
            s.WithBearerToken(caller.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        return await result.ReadAsJsonAsync<Page<ListWaitlistEntries.Response>>();
    }

    [Fact]
    public async Task Lists_in_waiting_order_filtered_by_doctor_and_status_page_by_page()
    {
        var admin = await RegisterClinicAsync();
        var doctor = await AddUserAsync(admin, "doctor");
        var (doctorId, patientId) = await DoctorAndPatientAsync(admin);
        var otherDoctor = await InsertDoctorAsync(admin.ClinicId, "Dr. Otro");
        var second = await CreatePatientAsync(admin, "Segundo Paciente", "+5491122335500");
        var first = await JoinAsync(admin, patientId, doctorId, HoursAhead(1, 10), HoursAhead(4, 10), note: "mañanas");
        var any = await JoinAsync(admin, second, null, HoursAhead(1, 10), HoursAhead(6, 10));
        var others = await JoinAsync(admin, second, otherDoctor, HoursAhead(2, 10), HoursAhead(3, 10), 60);
        var left = await JoinAsync(admin, patientId, doctorId, HoursAhead(2, 10), HoursAhead(5, 10));
        await Host.Scenario(s =>
        {
            s.Delete.Url($"/api/waitlist/{left.Id}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NoContent);
        });

        var all = await ListAsync(doctor);
        Assert.Equal([first.Id, any.Id, others.Id, left.Id], all.Items.Select(e => e.Id));
        Assert.Null(all.NextCursor);
        var head = all.Items[0];
        Assert.Equal((patientId, doctorId, "waiting", "mañanas", 30), (head.PatientId, head.DoctorId, head.Status, head.Note, head.DurationMinutes));
        Assert.Equal(new ListWaitlistEntries.Summary(patientId, "María Pérez"), head.Patient);
        Assert.Equal(new ListWaitlistEntries.Summary(doctorId, "Dra. Ana Gómez"), head.Doctor);
        Assert.Equal((HoursAhead(1, 10), HoursAhead(4, 10)), (head.From, head.To));
        Assert.Null(head.Offer);
        Assert.Null(all.Items[1].Doctor);
        Assert.Equal("cancelled", all.Items[3].Status);

        Assert.Equal([first.Id, left.Id], (await ListAsync(doctor, $"?doctorId={doctorId}")).Items.Select(e => e.Id));
        Assert.Equal([first.Id, any.Id, others.Id], (await ListAsync(doctor, "?status=waiting")).Items.Select(e => e.Id));
        Assert.Equal([left.Id], (await ListAsync(doctor, $"?doctorId={doctorId}&status=cancelled")).Items.Select(e => e.Id));

        var page1 = await ListAsync(doctor, "?limit=3");
        Assert.Equal([first.Id, any.Id, others.Id], page1.Items.Select(e => e.Id));
        Assert.NotNull(page1.NextCursor);
        var page2 = await ListAsync(doctor, $"?limit=3&cursor={page1.NextCursor}");
        Assert.Equal([left.Id], page2.Items.Select(e => e.Id));
        Assert.Null(page2.NextCursor);
    }

    [Fact]
    public async Task Requires_a_token() => await AssertNeedsTokenAsync(s => s.Get.Url("/api/waitlist"));

    [Fact]
    public async Task Lists_only_the_callers_clinic()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync();
        var (doctorId, patientId) = await DoctorAndPatientAsync(admin);
        var (theirDoctor, theirPatient) = await DoctorAndPatientAsync(other, phone: "+5491122335511");
        var mine = await JoinAsync(admin, patientId, doctorId, HoursAhead(1, 10), HoursAhead(4, 10));
        await JoinAsync(other, theirPatient, theirDoctor, HoursAhead(1, 10), HoursAhead(4, 10));

        Assert.Equal([mine.Id], (await ListAsync(admin)).Items.Select(e => e.Id));
        Assert.Empty((await ListAsync(admin, $"?doctorId={theirDoctor}")).Items);
    }

    [Fact]
    public async Task Rejects_an_unknown_status_a_bad_limit_and_a_bad_cursor()
    {
        var admin = await RegisterClinicAsync();

        await AssertInvalidAsync("status", s =>
        {
            s.Get.Url("/api/waitlist?status=pending");
            s.WithBearerToken(admin.Token);
        });
        await AssertInvalidAsync("limit", s =>
        {
            s.Get.Url("/api/waitlist?limit=201");
            s.WithBearerToken(admin.Token);
        });
        await AssertInvalidAsync("cursor", s =>
        {
            s.Get.Url("/api/waitlist?cursor=bm90LWEtdXVpZA");
            s.WithBearerToken(admin.Token);
        });
    }

    [Fact]
    public async Task Shows_the_latest_offer_of_each_entry()
    {
        var admin = await RegisterClinicAsync();
        await EnableWhatsAppAsync(admin);
        var (doctorId, patientId) = await DoctorAndPatientAsync(admin, phone: "+5491122335522");
        var booked = await CreatePatientAsync(admin, "Ocupa Turno", "+5491122335533");
        var appointmentId = await BookAsync(admin, doctorId, booked, HoursAhead(3, 15));
        var entry = await JoinAsync(admin, patientId, doctorId, HoursAhead(3, 12), HoursAhead(3, 18));

        await CancelAppointmentAsync(admin, appointmentId);

        var listed = Assert.Single((await ListAsync(admin)).Items);
        Assert.Equal(entry.Id, listed.Id);
        Assert.Equal("offered", listed.Status);
        var offer = listed.Offer!;
        var stored = Assert.Single(await OffersOfAsync(entry.Id));
        Assert.Equal(new ListWaitlistEntries.Offer(stored.Id, "offered", HoursAhead(3, 15), HoursAhead(3, 15).AddMinutes(30), stored.ExpiresAt, null),
            offer);
    }
}
