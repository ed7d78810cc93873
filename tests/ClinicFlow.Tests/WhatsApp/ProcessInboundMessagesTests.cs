using System.Net;
using ClinicFlow.Slices.Faq;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.WhatsApp;

/// <summary>
/// ProcessInboundMessages, the worker behind the webhook: replies to reminders confirm or cancel,
/// other text gets the clinic's best FAQ answer in its language (accents folded) or a fallback, and a
/// blocked patient gets nothing.
/// </summary>
public sealed class ProcessInboundMessagesTests(AppFixture app) : WhatsAppTest(app)
{
    private async Task<string> StatusOfAsync(Guid appointmentId) =>
        await App.ScalarAsync<string>("select status from appointments where id = @appointmentId", new { appointmentId });

    /// <summary>Marks the appointment's earliest-due reminder as delivered by Meta under a known id.</summary>
    private async Task<string> MarkReminderSentAsync(Guid appointmentId)
    {
        var wamid = $"wamid.rem-{Guid.NewGuid():N}";
        await App.ExecuteAsync("""
            update outbox_messages set status = 'sent', sent_at = now(), provider_message_id = @wamid
            where id = (select id from outbox_messages where appointment_id = @appointmentId and kind = 'reminder' order by due_at limit 1)
            """, new { wamid, appointmentId });
        return wamid;
    }

    private async Task<string> ReplyAsync(string phoneNumberId, string from, string text, string? contextId = null)
    {
        var messageId = $"wamid.in-{Guid.NewGuid():N}";
        await PostWebhookAsync(InboundJson(phoneNumberId, from, messageId, text, contextId));
        return messageId;
    }

    private async Task FaqAsync(Account admin, string question, string answer, params string[] keywords)
    {
        await Host.Scenario(s =>
        {
            s.Post.Json(new CreateFaq.Request(question, answer, keywords, true)).ToUrl("/api/faq");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
    }

    [Fact]
    public async Task A_reply_1_to_a_reminder_confirms_the_appointment_as_the_patient()
    {
        var admin = await RegisterClinicAsync("Clínica Sonrisa");
        var phoneNumberId = await EnableWhatsAppAsync(admin);
        var (doctorId, patientId) = await DoctorAndPatientAsync(admin);
        var appointmentId = await BookAsync(admin, doctorId, patientId, HoursAhead(3, 15));
        var reminder = await MarkReminderSentAsync(appointmentId);

        var messageId = await ReplyAsync(phoneNumberId, "5491122334455", "Sí", reminder);

        await WaitUntilAsync(async () => await StatusOfAsync(appointmentId) == "confirmed", "appointment confirmed");
        var answer = await App.Graph.WaitForAsync(r => r.PhoneNumberId == phoneNumberId && r.ReplyTo == messageId);
        Assert.Contains("confirmado", answer.Text, StringComparison.Ordinal);
        Assert.Contains("Dra. Ana Gómez", answer.Text, StringComparison.Ordinal);
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "appointment.status");
        Assert.Equal(appointmentId.ToString(), audit!.EntityId);
        Assert.Equal("public", audit.ActorType);
        Assert.Equal(patientId, audit.ActorId);
        Assert.Contains("whatsapp", audit.Changes, StringComparison.Ordinal);
        Assert.Equal(2, await App.ScalarAsync<int>(
            "select count(*)::int from outbox_messages where appointment_id = @appointmentId and kind = 'reminder' and status in ('pending', 'sent')",
            new { appointmentId }));
    }

    [Fact]
    public async Task A_reply_2_cancels_the_next_reminded_appointment_and_drops_its_other_reminders()
    {
        var admin = await RegisterClinicAsync();
        var phoneNumberId = await EnableWhatsAppAsync(admin);
        var (doctorId, patientId) = await DoctorAndPatientAsync(admin, phone: "+5491133334444");
        var appointmentId = await BookAsync(admin, doctorId, patientId, HoursAhead(3, 15));
        await MarkReminderSentAsync(appointmentId);

        var messageId = await ReplyAsync(phoneNumberId, "5491133334444", "2");

        await WaitUntilAsync(async () => await StatusOfAsync(appointmentId) == "cancelled", "appointment cancelled");
        var answer = await App.Graph.WaitForAsync(r => r.PhoneNumberId == phoneNumberId && r.ReplyTo == messageId);
        Assert.Contains("cancelado", answer.Text, StringComparison.Ordinal);
        Assert.Equal("cancelled", await App.ScalarAsync<string>(
            "select status from outbox_messages where appointment_id = @appointmentId and kind = 'reminder' and status <> 'sent'",
            new { appointmentId }));
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "appointment.cancel");
        Assert.Equal(patientId, audit!.ActorId);
    }

    [Fact]
    public async Task Answers_the_best_spanish_faq_whatever_the_accents_and_case()
    {
        var admin = await RegisterClinicAsync();
        var phoneNumberId = await EnableWhatsAppAsync(admin);
        await FaqAsync(admin, "¿Cuál es el horario de atención?", "Atendemos de lunes a viernes de 9 a 18 h.", "horario", "atención");
        await FaqAsync(admin, "¿Aceptan obras sociales?", "Sí, trabajamos con las principales prepagas.", "obra social", "prepaga");

        var first = await ReplyAsync(phoneNumberId, "5491155556666", "Hola! que HORARIOS de atencion tienen?");
        var second = await ReplyAsync(phoneNumberId, "5491155556666", "¿Trabajan con mi prepagá?");

        Assert.Equal("Atendemos de lunes a viernes de 9 a 18 h.",
            (await App.Graph.WaitForAsync(r => r.PhoneNumberId == phoneNumberId && r.ReplyTo == first)).Text);
        Assert.Equal("Sí, trabajamos con las principales prepagas.",
            (await App.Graph.WaitForAsync(r => r.PhoneNumberId == phoneNumberId && r.ReplyTo == second)).Text);
    }

    [Fact]
    public async Task Answers_the_best_german_faq_with_umlauts_folded()
    {
        var admin = await RegisterClinicAsync("Praxis Müller", country: "DE");
        var phoneNumberId = await EnableWhatsAppAsync(admin);
        await FaqAsync(admin, "Wann sind Ihre Öffnungszeiten?", "Mo–Fr 8–18 Uhr.", "Öffnungszeiten", "Sprechstunde");
        await FaqAsync(admin, "Kann ich bei Ihnen parken?", "Ja, im Hof gibt es Parkplätze.", "Parkplatz", "parken");

        var first = await ReplyAsync(phoneNumberId, "4915112345678", "Offnungszeiten bitte");
        var second = await ReplyAsync(phoneNumberId, "4915112345678", "Gibt es einen Parkplatz für Patienten?");

        Assert.Equal("Mo–Fr 8–18 Uhr.", (await App.Graph.WaitForAsync(r => r.PhoneNumberId == phoneNumberId && r.ReplyTo == first)).Text);
        Assert.Equal("Ja, im Hof gibt es Parkplätze.",
            (await App.Graph.WaitForAsync(r => r.PhoneNumberId == phoneNumberId && r.ReplyTo == second)).Text);
    }

    [Fact]
    public async Task Falls_back_when_no_active_faq_matches()
    {
        var admin = await RegisterClinicAsync("Clínica Norte");
        var phoneNumberId = await EnableWhatsAppAsync(admin);
        await Host.Scenario(s =>
        {
            s.Post.Json(new CreateFaq.Request("¿Horario?", "De 9 a 18.", ["horario"], false)).ToUrl("/api/faq");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });

        var messageId = await ReplyAsync(phoneNumberId, "5491177778888", "¿cuál es el horario?");

        var answer = await App.Graph.WaitForAsync(r => r.PhoneNumberId == phoneNumberId && r.ReplyTo == messageId);
        Assert.Contains("Clínica Norte", answer.Text, StringComparison.Ordinal);
        Assert.Equal("fallback", await App.ScalarAsync<string>("select outcome from whatsapp_inbound where message_id = @messageId", new { messageId }));
    }

    [Fact]
    public async Task A_blocked_patient_gets_nothing_and_changes_nothing()
    {
        var admin = await RegisterClinicAsync();
        var phoneNumberId = await EnableWhatsAppAsync(admin);
        var (doctorId, patientId) = await DoctorAndPatientAsync(admin, phone: "+5491199990000");
        var appointmentId = await BookAsync(admin, doctorId, patientId, HoursAhead(3, 15));
        await MarkReminderSentAsync(appointmentId);
        await Host.Scenario(s =>
        {
            s.Post.Json(new { reason = "Conducta" }).ToUrl($"/api/patients/{patientId}/block");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var messageId = await ReplyAsync(phoneNumberId, "5491199990000", "2");

        await WaitUntilAsync(async () => await App.ScalarAsync<string>(
            "select status from whatsapp_inbound where message_id = @messageId", new { messageId }) == "done", "inbound handled");
        Assert.Equal("blocked", await App.ScalarAsync<string>("select outcome from whatsapp_inbound where message_id = @messageId", new { messageId }));
        Assert.Equal("scheduled", await StatusOfAsync(appointmentId));
        Assert.Equal(0, await App.ScalarAsync<int>(
            "select count(*)::int from outbox_messages where clinic_id = @ClinicId and kind = 'reply'", new { admin.ClinicId }));
        Assert.DoesNotContain(App.Graph.RequestsFor(phoneNumberId), r => r.ReplyTo == messageId);
    }
}
