using System.Net;
using System.Text.Json;
using ClinicFlow.Slices.Waitlist;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Waitlist;

/// <summary>
/// The automatic part of the waitlist (<see cref="WaitlistMachine"/>, <see cref="ExpireWaitlistOffers"/>):
/// freed slots offered over WhatsApp in the freeing transaction, replies booking through the normal
/// booking path (first wins), declines, expiry, and which message a patient's yes answers.
/// </summary>
public sealed class WaitlistOfferWorkflowTests(AppFixture app) : WaitlistTest(app)
{
    private sealed record Booked(Guid Id, Guid PatientId, DateTimeOffset StartsAt, DateTimeOffset EndsAt, string Status, Guid? CreatedBy);

    private async Task<IReadOnlyList<Booked>> HoldingAsync(Guid doctorId, DateTimeOffset startsAt) => await App.QueryAsync<Booked>("""
        select id, patient_id, starts_at, ends_at, status, created_by from appointments
        where doctor_id = @doctorId and starts_at = @startsAt and status not in ('cancelled', 'no_show')
        """, new { doctorId, startsAt });

    private Task<string> AppointmentStatusAsync(Guid id) =>
        App.ScalarAsync<string>("select status from appointments where id = @id", new { id });

    private Task<int> AuditCountAsync(Guid? clinicId, string action) => App.ScalarAsync<int>(
        "select count(*)::int from audit_log where clinic_id = @clinicId and action = @action", new { clinicId, action });

    [Fact]
    public async Task A_cancelled_slot_is_offered_to_two_waiting_patients_and_the_first_yes_books_it()
    {
        var admin = await RegisterClinicAsync("Clínica Sonrisa");
        var phoneNumberId = await EnableWhatsAppAsync(admin);
        var (doctorId, holder) = await DoctorAndPatientAsync(admin, phone: "+5491144440000");
        var ana = await CreatePatientAsync(admin, "Ana Espera", "+5491144440001");
        var beto = await CreatePatientAsync(admin, "Beto Espera", "+5491144440002");
        var slot = HoursAhead(3, 15);
        var appointmentId = await BookAsync(admin, doctorId, holder, slot);
        var anaEntry = await JoinAsync(admin, ana, doctorId, HoursAhead(3, 12), HoursAhead(3, 18));
        var betoEntry = await JoinAsync(admin, beto, null, HoursAhead(2, 0), HoursAhead(4, 0));

        await CancelAppointmentAsync(admin, appointmentId);

        // Both are offered the freed half hour in the cancelling transaction, by template, in waiting order.
        var anaOffer = Assert.Single(await OffersOfAsync(anaEntry.Id));
        var betoOffer = Assert.Single(await OffersOfAsync(betoEntry.Id));
        foreach (var offer in new[] { anaOffer, betoOffer })
        {
            Assert.Equal(("offered", doctorId, slot, slot.AddMinutes(30)), (offer.Status, offer.DoctorId, offer.StartsAt, offer.EndsAt));
            Assert.InRange(offer.ExpiresAt, DateTimeOffset.UtcNow.AddMinutes(29), DateTimeOffset.UtcNow.AddMinutes(31));
        }

        Assert.True(anaOffer.Id.CompareTo(betoOffer.Id) < 0);
        Assert.Equal("offered", await EntryStatusAsync(anaEntry.Id));
        Assert.Equal("offered", await EntryStatusAsync(betoEntry.Id));
        var toAna = await App.Graph.WaitForAsync(r => r.PhoneNumberId == phoneNumberId && r.To == "5491144440001");
        Assert.Equal("waitlist_offer", toAna.TemplateName);
        Assert.Equal(["Ana", "Clínica Sonrisa", "Dra. Ana Gómez"], toAna.TemplateParameters.Take(3));
        Assert.Equal("12:00", toAna.TemplateParameters[4]);
        Assert.Equal("30", toAna.TemplateParameters[5]);
        await App.Graph.WaitForAsync(r => r.PhoneNumberId == phoneNumberId && r.To == "5491144440002" && r.TemplateName == "waitlist_offer");
        Assert.Equal(2, await AuditCountAsync(admin.ClinicId, "waitlist.offer"));
        var offerAudit = await LastAuditAsync(admin.ClinicId!.Value, "waitlist.offer");
        Assert.Equal(("system", (Guid?)null), (offerAudit!.ActorType, offerAudit.ActorId));
        Assert.Contains("appointment.cancel", offerAudit.Changes, StringComparison.Ordinal);

        // Both say yes; the first handled books, the other hears the slot is gone.
        var anaYes = await ReplyAsync(phoneNumberId, "5491144440001", "1");
        var betoYes = await ReplyAsync(phoneNumberId, "5491144440002", "1");
        var outcomes = new[] { await HandledAsync(anaYes), await HandledAsync(betoYes) };

        Assert.Equal(["waitlist_booked", "waitlist_taken"], outcomes.Order());
        var booked = Assert.Single(await HoldingAsync(doctorId, slot));
        var anaWon = outcomes[0] == "waitlist_booked";
        var (winner, winnerEntry, winnerYes, loserEntry, loserYes, loserPhone) = anaWon
            ? (ana, anaEntry, anaYes, betoEntry, betoYes, "5491144440002")
            : (beto, betoEntry, betoYes, anaEntry, anaYes, "5491144440001");
        Assert.Equal((winner, slot.AddMinutes(30), "scheduled", (Guid?)null), (booked.PatientId, booked.EndsAt, booked.Status, booked.CreatedBy));
        var accepted = Assert.Single(await OffersOfAsync(winnerEntry.Id));
        Assert.Equal(("accepted", (Guid?)booked.Id), (accepted.Status, accepted.AppointmentId));
        var taken = Assert.Single(await OffersOfAsync(loserEntry.Id));
        Assert.Equal(("taken", (Guid?)null), (taken.Status, taken.AppointmentId));
        Assert.Equal("booked", await EntryStatusAsync(winnerEntry.Id));
        Assert.Equal("waiting", await EntryStatusAsync(loserEntry.Id));
        Assert.Equal(booked.Id, await App.ScalarAsync<Guid>("select appointment_id from whatsapp_inbound where message_id = @winnerYes",
            new { winnerYes }));

        // The booking is a normal one: its reminders are queued, and it is audited as made by the patient.
        Assert.Equal(2, await App.ScalarAsync<int>(
            "select count(*)::int from outbox_messages where appointment_id = @id and kind = 'reminder' and status = 'pending'",
            new { id = booked.Id }));
        var created = await LastAuditAsync(admin.ClinicId!.Value, "appointment.create");
        Assert.Equal((booked.Id.ToString(), "public", (Guid?)winner), (created!.EntityId, created.ActorType, created.ActorId));
        Assert.Equal(winner, (await LastAuditAsync(admin.ClinicId!.Value, "waitlist.accept"))!.ActorId);
        var takenAudit = await LastAuditAsync(admin.ClinicId!.Value, "waitlist.taken");
        Assert.Contains("Overlap", takenAudit!.Changes, StringComparison.Ordinal);

        // What each patient read, as the Graph API received it.
        var won = await App.Graph.WaitForAsync(r => r.PhoneNumberId == phoneNumberId && r.ReplyTo == winnerYes);
        Assert.Contains("quedó reservado", won.Text, StringComparison.Ordinal);
        Assert.Contains("12:00", won.Text, StringComparison.Ordinal);
        var lost = await App.Graph.WaitForAsync(r => r.PhoneNumberId == phoneNumberId && r.ReplyTo == loserYes);
        Assert.Equal(loserPhone, lost.To);
        Assert.Contains("ya fue tomado", lost.Text, StringComparison.Ordinal);
        Assert.Contains("lista de espera", lost.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Offers_only_entries_whose_window_doctor_and_length_fit_and_whose_patient_can_be_reached()
    {
        var admin = await RegisterClinicAsync();
        await EnableWhatsAppAsync(admin);
        var (doctorId, holder) = await DoctorAndPatientAsync(admin, phone: "+5491144441000");
        var colleague = await InsertDoctorAsync(admin.ClinicId, "Dr. Colega");
        var slot = HoursAhead(3, 15);
        var appointmentId = await BookAsync(admin, doctorId, holder, slot);
        var fits = await CreatePatientAsync(admin, "Entra Justo", "+5491144441001");
        var late = await CreatePatientAsync(admin, "Ventana Tarde", "+5491144441002");
        var other = await CreatePatientAsync(admin, "Otro Doctor", "+5491144441003");
        var longer = await CreatePatientAsync(admin, "Turno Largo", "+5491144441004");
        var noPhone = await CreatePatientAsync(admin, "Sin Telefono");
        var window = (From: HoursAhead(3, 12), To: HoursAhead(3, 18));
        var fitsEntry = await JoinAsync(admin, fits, doctorId, slot, slot.AddMinutes(30));
        var lateEntry = await JoinAsync(admin, late, doctorId, slot.AddMinutes(15), window.To);
        var otherEntry = await JoinAsync(admin, other, colleague, window.From, window.To);
        var longerEntry = await JoinAsync(admin, longer, doctorId, window.From, window.To, 45);
        var noPhoneEntry = await JoinAsync(admin, noPhone, doctorId, window.From, window.To);

        await CancelAppointmentAsync(admin, appointmentId);

        Assert.Equal("offered", await EntryStatusAsync(fitsEntry.Id));
        Assert.Equal(slot, Assert.Single(await OffersOfAsync(fitsEntry.Id)).StartsAt);
        foreach (var entry in new[] { lateEntry, otherEntry, longerEntry, noPhoneEntry })
        {
            Assert.Equal("waiting", await EntryStatusAsync(entry.Id));
            Assert.Empty(await OffersOfAsync(entry.Id));
        }

        Assert.Equal(1, await App.ScalarAsync<int>(
            "select count(*)::int from outbox_messages where clinic_id = @ClinicId and kind = 'waitlist_offer'", new { admin.ClinicId }));
    }

    [Fact]
    public async Task A_clinic_without_whatsapp_makes_no_offers()
    {
        var admin = await RegisterClinicAsync();
        var (doctorId, holder) = await DoctorAndPatientAsync(admin, phone: "+5491144442000");
        var waiting = await CreatePatientAsync(admin, "Espera Sin Canal", "+5491144442001");
        var appointmentId = await BookAsync(admin, doctorId, holder, HoursAhead(3, 15));
        var entry = await JoinAsync(admin, waiting, doctorId, HoursAhead(3, 12), HoursAhead(3, 18));

        await CancelAppointmentAsync(admin, appointmentId);

        Assert.Equal("waiting", await EntryStatusAsync(entry.Id));
        Assert.Empty(await OffersOfAsync(entry.Id));
    }

    [Fact]
    public async Task An_unanswered_offer_expires_and_the_entry_waits_again_until_its_window_ends()
    {
        var admin = await RegisterClinicAsync();
        await EnableWhatsAppAsync(admin);
        await Host.Scenario(s =>
        {
            s.Patch.Json(new { offerMinutes = 10 }).ToUrl("/api/clinics/current");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        var (doctorId, holder) = await DoctorAndPatientAsync(admin, phone: "+5491144443000");
        var waiting = await CreatePatientAsync(admin, "Nunca Contesta", "+5491144443001");
        var appointmentId = await BookAsync(admin, doctorId, holder, HoursAhead(3, 15));
        var entry = await JoinAsync(admin, waiting, doctorId, HoursAhead(3, 12), HoursAhead(3, 18));
        await CancelAppointmentAsync(admin, appointmentId);
        var offer = Assert.Single(await OffersOfAsync(entry.Id));
        Assert.InRange(offer.ExpiresAt, DateTimeOffset.UtcNow.AddMinutes(9), DateTimeOffset.UtcNow.AddMinutes(11));

        // Nothing is due yet; then the offer's time runs out.
        await Expiry.ExpireOnceAsync(Ct);
        Assert.Equal("offered", Assert.Single(await OffersOfAsync(entry.Id)).Status);
        await App.ExecuteAsync("update waitlist_offers set expires_at = now() - interval '1 second' where id = @id", new { id = offer.Id });
        await Expiry.ExpireOnceAsync(Ct);

        Assert.Equal("expired", Assert.Single(await OffersOfAsync(entry.Id)).Status);
        Assert.Equal("waiting", await EntryStatusAsync(entry.Id));
        var audit = await App.QueryAsync<AuditRow>("""
            select action, entity_type, entity_id, actor_id, actor_type, changes::text as changes
            from audit_log where clinic_id = @ClinicId and action = 'waitlist.offer_expire' and entity_id = @id
            """, new { admin.ClinicId, id = offer.Id.ToString() });
        Assert.Equal(("system", (Guid?)null), (Assert.Single(audit).ActorType, audit[0].ActorId));
        Assert.Contains("\"entryStatus\": \"waiting\"", audit[0].Changes, StringComparison.Ordinal);

        // Once the window is over the entry expires too.
        await App.ExecuteAsync("""
            update waitlist_entries set window_from = now() - interval '2 hours', window_to = now() - interval '1 hour' where id = @id
            """, new { id = entry.Id });
        await Expiry.ExpireOnceAsync(Ct);

        Assert.Equal("expired", await EntryStatusAsync(entry.Id));
        var expired = await LastAuditAsync(admin.ClinicId!.Value, "waitlist.expire");
        Assert.Equal((entry.Id.ToString(), "system"), (expired!.EntityId, expired.ActorType));
    }

    [Fact]
    public async Task A_yes_after_the_offer_ran_out_books_nothing()
    {
        var admin = await RegisterClinicAsync();
        var phoneNumberId = await EnableWhatsAppAsync(admin);
        var (doctorId, holder) = await DoctorAndPatientAsync(admin, phone: "+5491144444000");
        var waiting = await CreatePatientAsync(admin, "Llega Tarde", "+5491144444001");
        var slot = HoursAhead(3, 15);
        var appointmentId = await BookAsync(admin, doctorId, holder, slot);
        var entry = await JoinAsync(admin, waiting, doctorId, HoursAhead(3, 12), HoursAhead(3, 18));
        await CancelAppointmentAsync(admin, appointmentId);
        var offer = Assert.Single(await OffersOfAsync(entry.Id));
        var offerMessage = await SentOfferMessageAsync(offer.Id);
        await App.ExecuteAsync("update waitlist_offers set expires_at = now() - interval '1 second' where id = @id", new { id = offer.Id });

        var yes = await ReplyAsync(phoneNumberId, "5491144444001", "1", offerMessage);

        Assert.Equal("waitlist_closed", await HandledAsync(yes));
        Assert.Empty(await HoldingAsync(doctorId, slot));
        Assert.Equal("expired", Assert.Single(await OffersOfAsync(entry.Id)).Status);
        Assert.Equal("waiting", await EntryStatusAsync(entry.Id));
        var answer = await App.Graph.WaitForAsync(r => r.PhoneNumberId == phoneNumberId && r.ReplyTo == yes);
        Assert.Contains("ya no está disponible", answer.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_no_declines_the_offer_and_the_entry_waits_again()
    {
        var admin = await RegisterClinicAsync();
        var phoneNumberId = await EnableWhatsAppAsync(admin);
        var (doctorId, holder) = await DoctorAndPatientAsync(admin, phone: "+5491144445000");
        var waiting = await CreatePatientAsync(admin, "Dice No", "+5491144445001");
        var slot = HoursAhead(3, 15);
        var appointmentId = await BookAsync(admin, doctorId, holder, slot);
        var entry = await JoinAsync(admin, waiting, doctorId, HoursAhead(3, 12), HoursAhead(3, 18));
        await CancelAppointmentAsync(admin, appointmentId);

        var no = await ReplyAsync(phoneNumberId, "5491144445001", "no");

        Assert.Equal("waitlist_declined", await HandledAsync(no));
        Assert.Equal("declined", Assert.Single(await OffersOfAsync(entry.Id)).Status);
        Assert.Equal("waiting", await EntryStatusAsync(entry.Id));
        Assert.Empty(await HoldingAsync(doctorId, slot));
        Assert.Equal(waiting, (await LastAuditAsync(admin.ClinicId!.Value, "waitlist.decline"))!.ActorId);
        var answer = await App.Graph.WaitForAsync(r => r.PhoneNumberId == phoneNumberId && r.ReplyTo == no);
        Assert.Contains("lista de espera", answer.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Removing_time_off_offers_the_earliest_fitting_time_in_the_doctors_hours()
    {
        var admin = await RegisterClinicInZoneAsync("Etc/UTC");
        await EnableWhatsAppAsync(admin);
        var doctorId = await InsertDoctorAsync(admin.ClinicId, "Dr. Vuelve");
        var day = HoursAhead(4, 0);
        var weekday = day.DayOfWeek == DayOfWeek.Sunday ? 7 : (int)day.DayOfWeek;
        await InsertWeeklyHoursAsync(admin.ClinicId, doctorId, (weekday, "09:00", "13:00"));
        var timeOff = await InsertTimeOffAsync(admin.ClinicId, doctorId, day, day.AddDays(1), "Congreso");
        var holder = await CreatePatientAsync(admin, "Ya Reservado", "+5491144446000");
        // Booked while the doctor was away (an admin may), it keeps 09:00 busy.
        await InsertAppointmentAsync(admin.ClinicId, doctorId, holder, day.AddHours(9), day.AddHours(9).AddMinutes(30));
        var waiting = await CreatePatientAsync(admin, "Espera Congreso", "+5491144446001");
        var entry = await JoinAsync(admin, waiting, doctorId, day.AddHours(6), day.AddHours(20), 60);

        await Host.Scenario(s =>
        {
            s.Delete.Url($"/api/doctors/{doctorId}/time-off/{timeOff}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NoContent);
        });

        var offer = Assert.Single(await OffersOfAsync(entry.Id));
        Assert.Equal((day.AddHours(9).AddMinutes(30), day.AddHours(10).AddMinutes(30)), (offer.StartsAt, offer.EndsAt));
        Assert.Contains("time_off.delete", (await LastAuditAsync(admin.ClinicId!.Value, "waitlist.offer"))!.Changes, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_no_show_offers_what_is_left_of_the_slot()
    {
        var admin = await RegisterClinicInZoneAsync("Etc/UTC");
        await EnableWhatsAppAsync(admin);
        var (doctorId, holder) = await DoctorAndPatientAsync(admin, phone: "+5491144447000");
        var waiting = await CreatePatientAsync(admin, "Hoy Mismo", "+5491144447001");
        var start = DateTimeOffset.UtcNow.AddMinutes(-5);
        var appointmentId = await InsertAppointmentAsync(admin.ClinicId, doctorId, holder, start, start.AddHours(3));
        var entry = await JoinAsync(admin, waiting, doctorId, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddHours(6), 60);

        await Host.Scenario(s =>
        {
            s.Post.Json(new { status = "no_show" }).ToUrl($"/api/appointments/{appointmentId}/attendance");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var offer = Assert.Single(await OffersOfAsync(entry.Id));
        Assert.InRange(offer.StartsAt, DateTimeOffset.UtcNow, start.AddHours(2));
        Assert.Equal(offer.StartsAt.AddHours(1), offer.EndsAt);
        Assert.Equal(0, offer.StartsAt.Minute % 30);
        Assert.True(offer.ExpiresAt <= offer.StartsAt);
    }

    [Fact]
    public async Task A_cancellation_over_whatsapp_offers_the_slot_to_the_waiting_list()
    {
        var admin = await RegisterClinicAsync();
        var phoneNumberId = await EnableWhatsAppAsync(admin);
        var (doctorId, holder) = await DoctorAndPatientAsync(admin, phone: "+5491144448000");
        var waiting = await CreatePatientAsync(admin, "Espera Aviso", "+5491144448001");
        var slot = HoursAhead(3, 15);
        var appointmentId = await BookAsync(admin, doctorId, holder, slot);
        await App.ExecuteAsync("""
            update outbox_messages set status = 'sent', sent_at = now(), provider_message_id = @wamid
            where id = (select id from outbox_messages where appointment_id = @appointmentId and kind = 'reminder' order by due_at limit 1)
            """, new { wamid = $"wamid.rem-{Guid.NewGuid():N}", appointmentId });
        var entry = await JoinAsync(admin, waiting, doctorId, HoursAhead(3, 12), HoursAhead(3, 18));

        var no = await ReplyAsync(phoneNumberId, "5491144448000", "2");

        Assert.Equal("cancelled", await HandledAsync(no));
        Assert.Equal("cancelled", await AppointmentStatusAsync(appointmentId));
        Assert.Equal(slot, Assert.Single(await OffersOfAsync(entry.Id)).StartsAt);
        await App.Graph.WaitForAsync(r => r.PhoneNumberId == phoneNumberId && r.To == "5491144448001" && r.TemplateName == "waitlist_offer");
    }

    [Fact]
    public async Task Erasing_a_patient_removes_their_entries_and_offers_their_bookings_ahead()
    {
        var admin = await RegisterClinicAsync();
        await EnableWhatsAppAsync(admin);
        var (doctorId, erased) = await DoctorAndPatientAsync(admin, phone: "+5491144451000");
        var waiting = await CreatePatientAsync(admin, "Espera Hueco", "+5491144451001");
        var slot = HoursAhead(3, 15);
        await BookAsync(admin, doctorId, erased, slot);
        var erasedEntry = await JoinAsync(admin, erased, doctorId, HoursAhead(1, 12), HoursAhead(2, 18), note: "prefiere tardes");
        var entry = await JoinAsync(admin, waiting, doctorId, HoursAhead(3, 12), HoursAhead(3, 18));

        await Host.Scenario(s =>
        {
            s.Delete.Url($"/api/patients/{erased}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NoContent);
        });

        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from waitlist_entries where patient_id = @erased", new { erased }));
        Assert.Empty(await OffersOfAsync(erasedEntry.Id));
        Assert.Equal(slot, Assert.Single(await OffersOfAsync(entry.Id)).StartsAt);
        Assert.Contains("patient.erase", (await LastAuditAsync(admin.ClinicId!.Value, "waitlist.offer"))!.Changes, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unquoted_yes_answers_the_offer_when_it_came_after_the_last_reminder()
    {
        var admin = await RegisterClinicAsync();
        var phoneNumberId = await EnableWhatsAppAsync(admin);
        var (doctorId, holder) = await DoctorAndPatientAsync(admin, phone: "+5491144449000");
        var patient = await CreatePatientAsync(admin, "Tiene Turno", "+5491144449001");
        var later = await BookAsync(admin, doctorId, patient, HoursAhead(6, 15));
        await App.ExecuteAsync("""
            update outbox_messages set status = 'sent', sent_at = now() - interval '1 hour', provider_message_id = @wamid
            where id = (select id from outbox_messages where appointment_id = @later and kind = 'reminder' order by due_at limit 1)
            """, new { wamid = $"wamid.rem-{Guid.NewGuid():N}", later });
        var slot = HoursAhead(3, 15);
        var appointmentId = await BookAsync(admin, doctorId, holder, slot);
        var entry = await JoinAsync(admin, patient, doctorId, HoursAhead(3, 12), HoursAhead(3, 18));
        await CancelAppointmentAsync(admin, appointmentId);

        var yes = await ReplyAsync(phoneNumberId, "5491144449001", "sí");

        Assert.Equal("waitlist_booked", await HandledAsync(yes));
        Assert.Equal(patient, Assert.Single(await HoldingAsync(doctorId, slot)).PatientId);
        Assert.Equal("booked", await EntryStatusAsync(entry.Id));
        Assert.Equal("scheduled", await AppointmentStatusAsync(later));
    }

    [Fact]
    public async Task A_yes_answers_the_newer_reminder_unless_it_quotes_the_offer()
    {
        var admin = await RegisterClinicAsync();
        var phoneNumberId = await EnableWhatsAppAsync(admin);
        var (doctorId, holder) = await DoctorAndPatientAsync(admin, phone: "+5491144450000");
        var patient = await CreatePatientAsync(admin, "Recordada Hoy", "+5491144450001");
        var later = await BookAsync(admin, doctorId, patient, HoursAhead(6, 15));
        var slot = HoursAhead(3, 15);
        var appointmentId = await BookAsync(admin, doctorId, holder, slot);
        var entry = await JoinAsync(admin, patient, doctorId, HoursAhead(3, 12), HoursAhead(3, 18));
        await CancelAppointmentAsync(admin, appointmentId);
        var offer = Assert.Single(await OffersOfAsync(entry.Id));
        var offerMessage = await SentOfferMessageAsync(offer.Id);
        // The reminder of the later appointment reached the patient after the offer did.
        await App.ExecuteAsync("update waitlist_offers set created_at = now() - interval '10 minutes' where id = @id", new { id = offer.Id });
        await App.ExecuteAsync("""
            update outbox_messages set status = 'sent', sent_at = now() - interval '1 minute', provider_message_id = @wamid
            where id = (select id from outbox_messages where appointment_id = @later and kind = 'reminder' order by due_at limit 1)
            """, new { wamid = $"wamid.rem-{Guid.NewGuid():N}", later });

        var unquoted = await ReplyAsync(phoneNumberId, "5491144450001", "1");

        Assert.Equal("confirmed", await HandledAsync(unquoted));
        Assert.Equal("confirmed", await AppointmentStatusAsync(later));
        Assert.Equal("offered", Assert.Single(await OffersOfAsync(entry.Id)).Status);

        var quoted = await ReplyAsync(phoneNumberId, "5491144450001", "1", offerMessage);

        Assert.Equal("waitlist_booked", await HandledAsync(quoted));
        Assert.Equal(patient, Assert.Single(await HoldingAsync(doctorId, slot)).PatientId);
        using var changes = JsonDocument.Parse((await LastAuditAsync(admin.ClinicId!.Value, "waitlist.accept"))!.Changes);
        Assert.Equal(entry.Id, changes.RootElement.GetProperty("entryId").GetGuid());
    }
}
