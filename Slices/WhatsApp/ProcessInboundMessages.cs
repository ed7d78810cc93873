using System.Text.Json;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Appointments;
using ClinicFlow.Slices.Clinics;
using ClinicFlow.Slices.Waitlist;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;

namespace ClinicFlow.Slices.WhatsApp;

/// <summary>Wakes the inbound worker right after the webhook committed a message.</summary>
public sealed class WhatsAppInboxSignal : WakeSignal
{
}

public static class WhatsAppInboxSetup
{
    public static IServiceCollection AddWhatsAppInbox(this IServiceCollection services)
    {
        services.AddSingleton<WhatsAppInboxSignal>();
        services.AddHostedService<ProcessInboundMessages>();
        return services;
    }
}

/// <summary>
/// The background worker behind the webhook. Each stored message is handled in one transaction that
/// holds its row (<c>FOR UPDATE SKIP LOCKED</c>), so with several instances each message is handled
/// exactly once: a reply to a reminder confirms or cancels the appointment (status machine and audit,
/// the patient acting via WhatsApp), a reply to a waitlist offer books or declines it, other text gets
/// the best FAQ answer or a fallback, a blocked patient gets nothing. Answers leave through the
/// outbox, committed with the handling.
/// </summary>
public sealed partial class ProcessInboundMessages(
    NpgsqlDataSource db,
    OutboxSignal outbox,
    WhatsAppInboxSignal signal,
    IOptions<WhatsAppOptions> options,
    IOptions<OutboxOptions> outboxOptions,
    ILogger<ProcessInboundMessages> logger) : BackgroundService
{
    private const string ClaimSql = """
        select id, clinic_id, message_id, from_phone, body, context_message_id, attempts
        from whatsapp_inbound
        where status = 'pending' and next_attempt_at <= now()
        order by next_attempt_at
        limit 1
        for update skip locked
        """;

    private const string ClinicSql = """
        select c.name, c.locale, c.country, c.timezone, coalesce(w.enabled, false) as enabled
        from clinics c
        left join whatsapp_configs w on w.clinic_id = c.id
        where c.id = @ClinicId
        """;

    private const string PatientsSql = """
        select id, blocked
        from patients
        where clinic_id = @ClinicId and phone = @Phone and erased_at is null
        order by blocked, id
        """;

    // The reminder the patient answered (WhatsApp quotes it as context.id).
    private const string ContextSql = """
        select appointment_id
        from outbox_messages
        where clinic_id = @ClinicId and channel = 'whatsapp' and provider_message_id = @ContextId and patient_id = any(@PatientIds)
          and appointment_id is not null
        limit 1
        """;

    // Without a quoted reminder: the patient's next appointment that was reminded.
    private const string NextRemindedSql = """
        select a.id
        from appointments a
        where a.clinic_id = @ClinicId and a.patient_id = any(@PatientIds)
          and a.status in ('scheduled', 'confirmed') and a.starts_at > now()
          and exists (select 1 from outbox_messages m
                      where m.clinic_id = @ClinicId and m.appointment_id = a.id and m.kind = 'reminder' and m.status = 'sent')
        order by a.starts_at, a.id
        limit 1
        """;

    private const string AppointmentSql = """
        select a.status, a.starts_at, a.ends_at, a.doctor_id, a.patient_id, d.full_name as doctor_name
        from appointments a
        join doctors d on d.clinic_id = a.clinic_id and d.id = a.doctor_id
        where a.clinic_id = @ClinicId and a.id = @Id
        for update of a
        """;

    private const string MoveSql = """
        update appointments
           set status = @Status, status_changed_at = now(), updated_at = now(), sequence = sequence + 1
         where clinic_id = @ClinicId and id = @Id
        """;

    private const string DropRemindersSql = """
        update outbox_messages
           set status = 'cancelled', locked_until = null, last_error = 'appointment cancelled'
         where clinic_id = @ClinicId and appointment_id = @Id and kind = 'reminder' and status in ('pending', 'sending')
        """;

    private const string ReplySql = """
        insert into outbox_messages (id, clinic_id, channel, recipient, payload, kind, patient_id, appointment_id, due_at)
        values (@Id, @ClinicId, 'whatsapp', @Recipient, @Payload::jsonb, 'reply', @PatientId, @AppointmentId, now())
        """;

    private const string DoneSql = """
        update whatsapp_inbound
           set status = 'done', attempts = attempts + 1, outcome = @Outcome, patient_id = @PatientId,
               appointment_id = @AppointmentId, processed_at = now(), last_error = null
         where id = @Id
        """;

    private const string RetrySql = """
        update whatsapp_inbound
           set attempts = attempts + 1,
               status = case when attempts + 1 >= @MaxAttempts then 'failed' else 'pending' end,
               next_attempt_at = now() + make_interval(secs => @Delay),
               last_error = @Error
         where id = @Id
        """;

    private sealed record Inbound(Guid Id, Guid ClinicId, string MessageId, string FromPhone, string? Body, string? ContextMessageId,
        int Attempts);

    private sealed record Clinic(string Name, string Locale, string Country, string Timezone, bool Enabled);

    private sealed record PatientRow(Guid Id, bool Blocked);

    private sealed record AppointmentRow(string Status, DateTimeOffset StartsAt, DateTimeOffset EndsAt, Guid DoctorId, Guid PatientId,
        string DoctorName);

    private sealed record Outcome(string Name, Guid? PatientId, Guid? AppointmentId, string? Reply);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!outboxOptions.Value.Enabled)
        {
            return;
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                // Bounded: whatever is left waits for the next round.
                for (var i = 0; i < 100 && await ProcessOneAsync(stoppingToken); i++)
                {
                }
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested && Database.IsUnavailable(e))
            {
                LogDatabaseUnavailable(logger, e.Message);
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                LogLoopFailed(logger, e);
            }

            await signal.WaitAsync(TimeSpan.FromSeconds(options.Value.InboxPollSeconds), stoppingToken);
        }
    }

    /// <summary>Handles the oldest due message, if any; answers whether there was one.</summary>
    public async Task<bool> ProcessOneAsync(CancellationToken ct)
    {
        await using var system = await SystemConnection.BeginAsync(db, ct);
        var connection = system.Connection;
        var transaction = system.Transaction;
        var message = await connection.QuerySingleOrDefaultAsync<Inbound>(new CommandDefinition(ClaimSql, transaction: transaction, cancellationToken: ct));
        if (message is null)
        {
            return false;
        }

        await transaction.SaveAsync("handle", ct);
        try
        {
            var outcome = await HandleAsync(connection, transaction, message, ct);
            await connection.ExecuteAsync(new CommandDefinition(DoneSql, new
            {
                message.Id,
                Outcome = outcome.Name,
                outcome.PatientId,
                outcome.AppointmentId,
            }, transaction, cancellationToken: ct));
            await transaction.CommitAsync(ct);
            if (outcome.Reply is not null)
            {
                outbox.Notify();
            }
        }
        catch (Exception e) when (!ct.IsCancellationRequested && !Database.IsUnavailable(e))
        {
            await transaction.RollbackAsync("handle", ct);
            var settings = options.Value;
            var error = e.Message.Length > 500 ? e.Message[..500] : e.Message;
            LogHandleFailed(logger, message.Id, message.Attempts + 1, error);
            await connection.ExecuteAsync(new CommandDefinition(RetrySql, new
            {
                message.Id,
                MaxAttempts = settings.InboxMaxAttempts,
                Delay = Math.Min(3600, outboxOptions.Value.RetryBaseSeconds * Math.Pow(2, message.Attempts)),
                Error = error,
            }, transaction, cancellationToken: ct));
            await transaction.CommitAsync(ct);
        }

        return true;
    }

    private static async Task<Outcome> HandleAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Inbound message,
        CancellationToken ct)
    {
        CommandDefinition Command(string sql, object args) => new(sql, args, transaction, cancellationToken: ct);

        var clinicId = message.ClinicId;
        var clinic = await connection.QuerySingleAsync<Clinic>(Command(ClinicSql, new { ClinicId = clinicId }));
        if (!clinic.Enabled)
        {
            return new Outcome("ignored_disabled", null, null, null);
        }

        var phone = ClinicRules.NormalizePhone("+" + message.FromPhone, clinic.Country) ?? "+" + message.FromPhone;
        var patients = (await connection.QueryAsync<PatientRow>(Command(PatientsSql, new { ClinicId = clinicId, Phone = phone }))).ToList();
        if (patients.Count > 0 && patients.All(p => p.Blocked))
        {
            return new Outcome("blocked", patients[0].Id, null, null);
        }

        var reachable = patients.Select(p => p.Id).ToArray();
        var patientId = reachable.Length > 0 ? reachable[0] : (Guid?)null;
        var intent = WhatsAppRules.ParseIntent(message.Body);
        string reply;
        string name;
        Guid? appointmentId = null;
        // A yes or no answers a waitlist offer or a reminder, whichever the patient quoted or, unquoted,
        // got last (WaitlistMachine.OfferAnsweredAsync; docs/waitlist.md).
        var offerId = intent == WhatsAppRules.Intent.Other
            ? null
            : await WaitlistMachine.OfferAnsweredAsync(connection, transaction, clinicId, reachable, message.ContextMessageId, ct);
        if (offerId is not null)
        {
            var answer = await WaitlistMachine.AnswerAsync(connection, transaction, clinicId, offerId.Value,
                intent == WhatsAppRules.Intent.Confirm, clinic.Name, clinic.Locale, clinic.Timezone, DateTimeOffset.UtcNow, ct);
            (name, reply, patientId, appointmentId) = (answer.Outcome, answer.Reply, answer.PatientId, answer.AppointmentId);
        }
        else if (intent != WhatsAppRules.Intent.Other)
        {
            var args = new { ClinicId = clinicId, PatientIds = reachable, ContextId = message.ContextMessageId };
            appointmentId = message.ContextMessageId is null || reachable.Length == 0
                ? null
                : await connection.QuerySingleOrDefaultAsync<Guid?>(Command(ContextSql, args));
            appointmentId ??= reachable.Length == 0 ? null : await connection.QuerySingleOrDefaultAsync<Guid?>(Command(NextRemindedSql, args));
            if (appointmentId is null)
            {
                (name, reply) = ("no_appointment", WhatsAppRules.NoAppointment(clinic.Name).In(clinic.Locale));
            }
            else
            {
                (name, reply, patientId) = await ApplyAsync(connection, transaction, clinicId, clinic, appointmentId.Value, intent, ct);
            }
        }
        else
        {
            var answer = string.IsNullOrWhiteSpace(message.Body)
                ? null
                : await connection.QuerySingleOrDefaultAsync<string>(Command(WhatsAppRules.FaqSql,
                    new { ClinicId = clinicId, clinic.Locale, Text = message.Body }));
            (name, reply) = answer is null ? ("fallback", WhatsAppRules.Fallback(clinic.Name).In(clinic.Locale)) : ("faq", answer);
        }

        await connection.ExecuteAsync(Command(ReplySql, new
        {
            Id = Guid.CreateVersion7(),
            ClinicId = clinicId,
            Recipient = phone,
            Payload = JsonSerializer.Serialize(new WhatsAppPayload(reply, null, message.MessageId), Outbox.PayloadJson),
            PatientId = patientId,
            AppointmentId = appointmentId,
        }));
        return new Outcome(name, patientId, appointmentId, reply);
    }

    /// <summary>Confirms or cancels along the status machine; the audit names the patient acting via WhatsApp.</summary>
    private static async Task<(string Name, string Reply, Guid PatientId)> ApplyAsync(NpgsqlConnection connection,
        NpgsqlTransaction transaction, Guid clinicId, Clinic clinic, Guid appointmentId, WhatsAppRules.Intent intent, CancellationToken ct)
    {
        var appointment = await connection.QuerySingleAsync<AppointmentRow>(new CommandDefinition(AppointmentSql,
            new { ClinicId = clinicId, Id = appointmentId }, transaction, cancellationToken: ct));
        var zone = TimeZoneInfo.FindSystemTimeZoneById(clinic.Timezone);
        var local = TimeZoneInfo.ConvertTime(appointment.StartsAt, zone);
        var date = AppointmentReminders.FormatDate(local, clinic.Locale);
        var time = local.ToString("HH:mm", System.Globalization.CultureInfo.InvariantCulture);
        var target = intent == WhatsAppRules.Intent.Confirm ? AppointmentRules.Confirmed : AppointmentRules.Cancelled;
        var ahead = appointment.StartsAt > DateTimeOffset.UtcNow;

        if (intent == WhatsAppRules.Intent.Confirm && appointment.Status == AppointmentRules.Confirmed && ahead)
        {
            return ("already_confirmed", WhatsAppRules.Confirmed(date, time, appointment.DoctorName).In(clinic.Locale), appointment.PatientId);
        }

        if (!ahead || !AppointmentRules.CanMove(appointment.Status, target))
        {
            return ("cannot_change", WhatsAppRules.CannotChange(clinic.Name).In(clinic.Locale), appointment.PatientId);
        }

        var args = new { ClinicId = clinicId, Id = appointmentId, Status = target };
        await connection.ExecuteAsync(new CommandDefinition(MoveSql, args, transaction, cancellationToken: ct));
        if (target == AppointmentRules.Cancelled)
        {
            await connection.ExecuteAsync(new CommandDefinition(DropRemindersSql, args, transaction, cancellationToken: ct));
        }

        await connection.AuditAsync(transaction, clinicId, "public", appointment.PatientId,
            target == AppointmentRules.Cancelled ? "appointment.cancel" : "appointment.status", "appointment", appointmentId,
            new { from = appointment.Status, to = target, actor = "patient", via = "whatsapp" }, ct);
        if (target == AppointmentRules.Cancelled)
        {
            // The freed slot is offered to the waiting list in this transaction.
            await WaitlistMachine.ReleaseAsync(connection, transaction, clinicId, appointment.DoctorId, appointment.StartsAt,
                appointment.EndsAt, "appointment.cancel", DateTimeOffset.UtcNow, ct);
        }

        return target == AppointmentRules.Cancelled
            ? ("cancelled", WhatsAppRules.Cancelled(date, time, appointment.DoctorName).In(clinic.Locale), appointment.PatientId)
            : ("confirmed", WhatsAppRules.Confirmed(date, time, appointment.DoctorName).In(clinic.Locale), appointment.PatientId);
    }

    [LoggerMessage(EventId = 30, Level = LogLevel.Error, Message = "WhatsApp inbound worker failed")]
    private static partial void LogLoopFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 31, Level = LogLevel.Warning, Message = "WhatsApp inbound worker paused, database unavailable: {Reason}")]
    private static partial void LogDatabaseUnavailable(ILogger logger, string reason);

    [LoggerMessage(EventId = 32, Level = LogLevel.Warning, Message = "WhatsApp inbound message {Id} failed (attempt {Attempt}): {Error}")]
    private static partial void LogHandleFailed(ILogger logger, Guid id, int attempt, string error);
}
