using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Waitlist;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Waitlist;

/// <summary>DELETE /api/waitlist/{id} (<see cref="DeleteWaitlistEntry"/>).</summary>
public sealed class DeleteWaitlistEntryTests(AppFixture app) : WaitlistTest(app)
{
    private Task<IScenarioResult> DeleteAsync(Account caller, Guid id, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Delete.Url($"/api/waitlist/{id}");
            s.WithBearerToken(caller.Token);
            s.StatusCodeShouldBe(expected);
        });

    private Task<int> AuditCountAsync(Guid? clinicId, Guid entryId) => App.ScalarAsync<int>(
        "select count(*)::int from audit_log where clinic_id = @clinicId and action = 'waitlist.cancel' and entity_id = @entryId",
        new { clinicId, entryId = entryId.ToString() });

    [Fact]
    public async Task Takes_the_patient_off_the_list_once_and_audits_it()
    {
        var admin = await RegisterClinicAsync();
        var staff = await AddUserAsync(admin, "staff");
        var (doctorId, patientId) = await DoctorAndPatientAsync(admin);
        var entry = await JoinAsync(admin, patientId, doctorId, HoursAhead(1, 10), HoursAhead(4, 10));

        var result = await DeleteAsync(staff, entry.Id, HttpStatusCode.NoContent);

        Assert.Empty(await result.ReadAsTextAsync());
        Assert.Equal("cancelled", await EntryStatusAsync(entry.Id));
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "waitlist.cancel");
        Assert.NotNull(audit);
        Assert.Equal(("waitlist_entry", entry.Id.ToString(), staff.UserId), (audit.EntityType, audit.EntityId, audit.ActorId));
        Assert.Contains("\"from\": \"waiting\"", audit.Changes, StringComparison.Ordinal);

        // Leaving again changes nothing.
        await DeleteAsync(staff, entry.Id, HttpStatusCode.NoContent);
        Assert.Equal(1, await AuditCountAsync(admin.ClinicId, entry.Id));
    }

    [Fact]
    public async Task Closes_the_open_offer_and_drops_its_unsent_message()
    {
        var admin = await RegisterClinicAsync();
        var (doctorId, patientId) = await DoctorAndPatientAsync(admin);
        var entry = await JoinAsync(admin, patientId, doctorId, HoursAhead(1, 10), HoursAhead(4, 10));
        // An offer whose message waits to leave (due later), as the machine leaves it after offering.
        var messageId = Guid.CreateVersion7();
        var offerId = Guid.CreateVersion7();
        await App.ExecuteAsync("""
            insert into outbox_messages (id, clinic_id, channel, recipient, payload, kind, patient_id, due_at, next_attempt_at)
            values (@messageId, @clinicId, 'whatsapp', '+5491122334455', '{"text":"x"}', 'waitlist_offer', @patientId, now() + interval '1 hour',
                    now() + interval '1 hour');
            insert into waitlist_offers (id, clinic_id, entry_id, doctor_id, starts_at, ends_at, expires_at, message_id)
            values (@offerId, @clinicId, @entryId, @doctorId, @startsAt, @endsAt, now() + interval '30 minutes', @messageId);
            update waitlist_entries set status = 'offered' where id = @entryId;
            """, new
        {
            messageId, offerId, clinicId = admin.ClinicId, patientId, entryId = entry.Id, doctorId,
            startsAt = HoursAhead(2, 10), endsAt = HoursAhead(2, 10).AddMinutes(30),
        });

        await DeleteAsync(admin, entry.Id, HttpStatusCode.NoContent);

        Assert.Equal("cancelled", await EntryStatusAsync(entry.Id));
        Assert.Equal("cancelled", Assert.Single(await OffersOfAsync(entry.Id)).Status);
        Assert.Equal("cancelled", await App.ScalarAsync<string>("select status from outbox_messages where id = @messageId", new { messageId }));
        Assert.Contains("\"from\": \"offered\"", (await LastAuditAsync(admin.ClinicId!.Value, "waitlist.cancel"))!.Changes,
            StringComparison.Ordinal);
    }

    [Fact]
    public async Task Requires_a_token() => await AssertNeedsTokenAsync(s => s.Delete.Url($"/api/waitlist/{Guid.NewGuid()}"));

    [Fact]
    public async Task Answers_404_for_another_clinics_entry_and_leaves_it_waiting()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync();
        var (theirDoctor, theirPatient) = await DoctorAndPatientAsync(other);
        var theirs = await JoinAsync(other, theirPatient, theirDoctor, HoursAhead(1, 10), HoursAhead(4, 10));

        await ErrorAsync(await DeleteAsync(admin, theirs.Id, HttpStatusCode.NotFound), ErrorCodes.NotFound);
        await ErrorAsync(await DeleteAsync(admin, Guid.NewGuid(), HttpStatusCode.NotFound), ErrorCodes.NotFound);

        Assert.Equal("waiting", await EntryStatusAsync(theirs.Id));
        Assert.Equal(0, await AuditCountAsync(admin.ClinicId, theirs.Id));
        Assert.Equal(0, await AuditCountAsync(other.ClinicId, theirs.Id));
    }

    [Fact]
    public async Task Refuses_an_entry_that_was_booked_or_expired()
    {
        var admin = await RegisterClinicAsync();
        var (doctorId, patientId) = await DoctorAndPatientAsync(admin);
        var booked = await JoinAsync(admin, patientId, doctorId, HoursAhead(1, 10), HoursAhead(4, 10));
        var expired = await JoinAsync(admin, patientId, doctorId, HoursAhead(1, 10), HoursAhead(4, 10));
        await App.ExecuteAsync("update waitlist_entries set status = 'booked' where id = @id", new { id = booked.Id });
        await App.ExecuteAsync("update waitlist_entries set status = 'expired' where id = @id", new { id = expired.Id });

        await ErrorAsync(await DeleteAsync(admin, booked.Id, HttpStatusCode.Conflict), ErrorCodes.InvalidState);
        await ErrorAsync(await DeleteAsync(admin, expired.Id, HttpStatusCode.Conflict), ErrorCodes.InvalidState);

        Assert.Equal("booked", await EntryStatusAsync(booked.Id));
        Assert.Equal("expired", await EntryStatusAsync(expired.Id));
    }
}
