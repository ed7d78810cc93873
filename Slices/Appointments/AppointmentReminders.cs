using System.Globalization;
using System.Text.Json;
using ClinicFlow.Infrastructure;
using Dapper;
using Npgsql;

namespace ClinicFlow.Slices.Appointments;

/// <summary>
/// WhatsApp reminders of an appointment, queued and dropped in the transaction that changes the
/// appointment or its patient: booking and rescheduling queue one message per entry of the clinic's
/// <c>reminder_hours</c> (only those still ahead), and cancelling, a no-show, attendance, a reschedule,
/// blocking or erasing the patient drop the ones not yet sent. Only a clinic with WhatsApp enabled
/// and a patient with a phone get reminders.
/// </summary>
public static class AppointmentReminders
{
    public const string Kind = "reminder";

    /// <summary>The approved Meta template the reminder is sent with (docs/whatsapp.md).</summary>
    public const string Template = "appointment_reminder";

    private const string ContextColumns = """
        select a.id, a.clinic_id, c.name as clinic_name, c.locale, c.timezone, c.reminder_hours, coalesce(w.enabled, false) as enabled,
               a.starts_at, a.status, a.patient_id, d.full_name as doctor_name, p.full_name as patient_name, p.phone,
               p.blocked or p.erased_at is not null as unreachable
        from appointments a
        join clinics c on c.id = a.clinic_id
        join doctors d on d.clinic_id = a.clinic_id and d.id = a.doctor_id
        join patients p on p.clinic_id = a.clinic_id and p.id = a.patient_id
        left join whatsapp_configs w on w.clinic_id = a.clinic_id

        """;

    /// <summary>What <see cref="Queue"/> needs (<c>@ClinicId</c>, <c>@Id</c>), for a caller that reads it in its own batch.</summary>
    internal const string ContextSql = ContextColumns + "where a.clinic_id = @ClinicId and a.id = @Id";

    // The contexts of several appointments (a series) in one statement.
    private const string ContextsSql = ContextColumns + "where a.clinic_id = @ClinicId and a.id = any(@Ids)";

    private const string InsertSql = """
        insert into outbox_messages (id, clinic_id, channel, recipient, payload, kind, patient_id, appointment_id, due_at, next_attempt_at)
        select t.id, @ClinicId, 'whatsapp', @Recipient, t.payload::jsonb, 'reminder', @PatientId, @AppointmentId, t.due, t.due
        from unnest(@Ids, @Payloads, @Dues) as t(id, payload, due)
        """;

    // The insert as a request queues it for COMMIT (parameters in this order).
    private static readonly CommitStatement QueuedInsert = new(InsertSql,
        "ClinicId", "Recipient", "PatientId", "AppointmentId", "Ids", "Payloads", "Dues");

    private const string DropSql = """
        update outbox_messages
           set status = 'cancelled', locked_until = null, last_error = @Reason
         where clinic_id = @ClinicId and appointment_id = any(@Ids) and kind = 'reminder' and status in ('pending', 'sending')
        """;

    // A move: the unsent reminders dropped, then the new time's contexts, in one batch.
    private const string RescheduleSql = DropSql + ";\n" + ContextsSql;

    private const string DropForPatientSql = """
        update outbox_messages
           set status = 'cancelled', locked_until = null, last_error = @Reason
         where clinic_id = @ClinicId and patient_id = @Id and status in ('pending', 'sending')
        """;

    // Erasure: what is still queued is cancelled, and no message row keeps the number or the text.
    private const string EraseForPatientSql = """
        update outbox_messages
           set status = case when status in ('pending', 'sending') then 'cancelled' else status end,
               recipient = '', payload = '{}'::jsonb, locked_until = null, last_error = null
         where clinic_id = @ClinicId and patient_id = @Id;
        update whatsapp_inbound
           set body = null, from_phone = ''
         where clinic_id = @ClinicId and patient_id = @Id;
        """;

    // Property mapping: Npgsql reports int[] as System.Array, which Dapper's constructor matching refuses.
    internal sealed class Context
    {
        public Guid Id { get; init; }

        public Guid ClinicId { get; init; }

        public string ClinicName { get; init; } = "";

        public string Locale { get; init; } = "en";

        public string Timezone { get; init; } = "UTC";

        public int[] ReminderHours { get; init; } = [];

        public bool Enabled { get; init; }

        public DateTimeOffset StartsAt { get; init; }

        public string Status { get; init; } = "";

        public Guid PatientId { get; init; }

        public string DoctorName { get; init; } = "";

        public string PatientName { get; init; } = "";

        public string? Phone { get; init; }

        public bool Unreachable { get; init; }
    }

    /// <summary>
    /// Queues the reminders of booked appointments (a series' occurrences), their contexts read in one
    /// round trip; answers how many.
    /// </summary>
    public static async Task<int> QueueAsync(DbScope scope, Guid clinicId, IReadOnlyCollection<Guid> appointmentIds, DateTimeOffset now,
        CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(scope);
        ArgumentNullException.ThrowIfNull(appointmentIds);
        if (appointmentIds.Count == 0)
        {
            return 0;
        }

        var contexts = await scope.QueryAsync<Context>(ContextsSql, new { ClinicId = clinicId, Ids = appointmentIds.ToArray() }, ct);
        return contexts.Sum(context => Queue(scope, context, now));
    }

    /// <summary>
    /// Queues the reminders of a booked appointment, with the <see cref="ContextSql"/> row the caller
    /// read in its own batch (null: no such appointment); answers how many. Nothing in a request reads
    /// its reminders back, so their insert travels with the request's <c>COMMIT</c>
    /// (<see cref="DbScope.AtCommit"/>): no round trip of its own.
    /// </summary>
    internal static int Queue(DbScope scope, Context? context, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(scope);
        if (Plan(context, now) is not { } insert)
        {
            return 0;
        }

        var (sql, names) = QueuedInsert.Next(scope);
        var parameters = new DynamicParameters();
        parameters.Add(names[0], insert.ClinicId);
        parameters.Add(names[1], insert.Recipient);
        parameters.Add(names[2], insert.PatientId);
        parameters.Add(names[3], insert.AppointmentId);
        parameters.Add(names[4], insert.Ids);
        parameters.Add(names[5], insert.Payloads);
        parameters.Add(names[6], insert.Dues);
        scope.AtCommit(sql, parameters);
        scope.OutboxTouched = true;
        return insert.Ids.Length;
    }

    /// <summary>As above, on a connection outside a request (a waitlist offer booked over WhatsApp); the caller wakes the sender.</summary>
    public static async Task<int> QueueAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid clinicId,
        Guid appointmentId, DateTimeOffset now, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var context = await connection.QuerySingleOrDefaultAsync<Context>(new CommandDefinition(ContextSql,
            new { ClinicId = clinicId, Id = appointmentId }, transaction, cancellationToken: ct));
        if (Plan(context, now) is not { } insert)
        {
            return 0;
        }

        await connection.ExecuteAsync(new CommandDefinition(InsertSql, insert, transaction, cancellationToken: ct));
        return insert.Ids.Length;
    }

    private sealed record Insert(Guid ClinicId, string Recipient, Guid PatientId, Guid AppointmentId, Guid[] Ids, string[] Payloads,
        DateTimeOffset[] Dues);

    // The rows to queue: one per reminder hour still ahead, none for a clinic without WhatsApp, a
    // patient without a phone or not reachable, or an appointment that no longer holds its slot.
    private static Insert? Plan(Context? context, DateTimeOffset now)
    {
        if (context is null || !context.Enabled || context.Phone is null || context.Unreachable
            || !AppointmentRules.CanReschedule(context.Status))
        {
            return null;
        }

        var zone = TimeZoneInfo.FindSystemTimeZoneById(context.Timezone);
        var payload = JsonSerializer.Serialize(Payload(context, zone), Outbox.PayloadJson);
        var dues = context.ReminderHours.Distinct()
            .Select(hours => context.StartsAt.AddHours(-hours).ToUniversalTime())
            .Where(due => due > now)
            .ToArray();
        return dues.Length == 0
            ? null
            : new Insert(context.ClinicId, context.Phone, context.PatientId, context.Id, [.. dues.Select(_ => Guid.CreateVersion7())],
                [.. dues.Select(_ => payload)], dues);
    }

    /// <summary>Drops the reminders not yet sent of appointments (cancelled, no-show, attended), in one statement.</summary>
    public static Task<int> DropAsync(DbScope scope, Guid clinicId, IReadOnlyCollection<Guid> appointmentIds, string reason,
        CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(scope);
        ArgumentNullException.ThrowIfNull(appointmentIds);
        return scope.ExecuteAsync(DropSql, new { ClinicId = clinicId, Ids = appointmentIds.ToArray(), Reason = reason }, ct);
    }

    /// <summary>After a PATCH: reminders follow the appointment's new time, and stop once it no longer holds its slot.</summary>
    public static async Task SyncAsync(DbScope scope, Guid clinicId, Guid appointmentId, bool moved, string status, DateTimeOffset now,
        CancellationToken ct)
    {
        if (!AppointmentRules.CanReschedule(status))
        {
            await DropAsync(scope, clinicId, [appointmentId], $"appointment {status}", ct);
        }
        else if (moved)
        {
            await RescheduledAsync(scope, clinicId, [appointmentId], now, ct);
        }
    }

    /// <summary>
    /// Appointments moved (one, or a series' occurrences): their unsent reminders dropped and new ones
    /// queued for the new times, the drop and the contexts in one round trip; an occurrence that no
    /// longer holds its slot gets none.
    /// </summary>
    public static async Task<int> RescheduledAsync(DbScope scope, Guid clinicId, IReadOnlyCollection<Guid> appointmentIds,
        DateTimeOffset now, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(scope);
        ArgumentNullException.ThrowIfNull(appointmentIds);
        if (appointmentIds.Count == 0)
        {
            return 0;
        }

        var contexts = await scope.QueryAsync<Context>(RescheduleSql,
            new { ClinicId = clinicId, Ids = appointmentIds.ToArray(), Reason = "appointment rescheduled" }, ct);
        return contexts.Sum(context => Queue(scope, context, now));
    }

    /// <summary>A blocked patient gets nothing: every unsent message to them is dropped.</summary>
    public static Task<int> DropForPatientAsync(DbScope scope, Guid clinicId, Guid patientId, string reason, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(scope);
        return scope.ExecuteAsync(DropForPatientSql, new { ClinicId = clinicId, Id = patientId, Reason = reason }, ct);
    }

    /// <summary>Erasure: unsent messages are cancelled and no message keeps the patient's number or text.</summary>
    public static Task<int> EraseForPatientAsync(DbScope scope, Guid clinicId, Guid patientId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(scope);
        return scope.ExecuteAsync(EraseForPatientSql, new { ClinicId = clinicId, Id = patientId }, ct);
    }

    private static WhatsAppPayload Payload(Context context, TimeZoneInfo zone)
    {
        var local = TimeZoneInfo.ConvertTime(context.StartsAt, zone);
        var first = FirstName(context.PatientName);
        var date = FormatDate(local, context.Locale);
        var time = local.ToString("HH:mm", CultureInfo.InvariantCulture);
        var text = context.Locale switch
        {
            "es" => $"Hola {first}, le recordamos su turno en {context.ClinicName} con {context.DoctorName} el {date} a las {time}. "
                + "Responda 1 para confirmar o 2 para cancelar.",
            "de" => $"Hallo {first}, wir erinnern Sie an Ihren Termin in der Praxis {context.ClinicName} bei {context.DoctorName} am {date} "
                + $"um {time} Uhr. Antworten Sie 1 zum Bestätigen oder 2 zum Absagen.",
            _ => $"Hello {first}, this is a reminder of your appointment at {context.ClinicName} with {context.DoctorName} on {date} "
                + $"at {time}. Reply 1 to confirm or 2 to cancel.",
        };
        return new WhatsAppPayload(text,
            new WhatsAppTemplate(Template, context.Locale, [first, context.ClinicName, context.DoctorName, date, time]), null);
    }

    /// <summary>The first word of a name, for a greeting.</summary>
    public static string FirstName(string fullName)
    {
        ArgumentNullException.ThrowIfNull(fullName);
        var trimmed = fullName.Trim();
        var space = trimmed.IndexOf(' ', StringComparison.Ordinal);
        return space > 0 ? trimmed[..space] : trimmed;
    }

    private static readonly string[] WeekdaysEs = ["domingo", "lunes", "martes", "miércoles", "jueves", "viernes", "sábado"];
    private static readonly string[] WeekdaysDe = ["Sonntag", "Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag"];
    private static readonly string[] WeekdaysEn = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

    /// <summary>The local date as people of the clinic's language write it (invariant globalization has no culture data).</summary>
    public static string FormatDate(DateTimeOffset local, string locale)
    {
        var day = (int)local.DayOfWeek;
        return locale switch
        {
            "es" => $"{WeekdaysEs[day]} {local.ToString("dd/MM/yyyy", CultureInfo.InvariantCulture)}",
            "de" => $"{WeekdaysDe[day]}, {local.ToString("dd.MM.yyyy", CultureInfo.InvariantCulture)}",
            _ => $"{WeekdaysEn[day]} {local.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)}",
        };
    }
}
