using System.Globalization;
using System.Text.Json;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Appointments;
using ClinicFlow.Slices.WhatsApp;
using Dapper;
using Npgsql;

namespace ClinicFlow.Slices.Waitlist;

/// <summary>
/// The waitlist as one small state machine (docs/waitlist.md). An entry waits; when a slot of a
/// doctor frees up (an appointment cancelled or marked no-show, time off removed) every waiting
/// entry whose window and doctor fit is offered a slot by WhatsApp, in waiting order, in the same
/// transaction as the change that freed it. The patient's reply books the slot through the normal
/// booking path (the first wins, the exclusion constraint decides), declines it, or comes too late;
/// unanswered offers expire. Every step is one row of <see cref="Transitions"/>, applied under the
/// entry's row lock and guarded by the status it starts from, and audited.
/// </summary>
public static class WaitlistMachine
{
    // Entry statuses.
    public const string Waiting = "waiting";
    public const string Offered = "offered";
    public const string Booked = "booked";
    public const string Expired = "expired";
    public const string Cancelled = "cancelled";

    public static readonly string[] EntryStatuses = [Waiting, Offered, Booked, Expired, Cancelled];

    // Offer statuses: "offered" is the one open status, the others close the offer.
    public const string OfferOpen = "offered";
    public const string OfferAccepted = "accepted";
    public const string OfferTaken = "taken";
    public const string OfferDeclined = "declined";
    public const string OfferExpired = "expired";
    public const string OfferCancelled = "cancelled";

    /// <summary>The approved Meta template an offer is sent with (docs/whatsapp.md).</summary>
    public const string Template = "waitlist_offer";

    /// <summary>The outbox kind of an offer message.</summary>
    public const string MessageKind = "waitlist_offer";

    /// <summary>At most this many patients are offered one freed slot; the others keep waiting.</summary>
    public const int MaxOffersPerRelease = 25;

    // Waiting entries looked at for one freed slot (several may belong to one patient or not fit).
    private const int CandidateLimit = 200;

    public enum Trigger
    {
        /// <summary>A freed slot fits the entry: an offer is made.</summary>
        Offer,

        /// <summary>The patient replied yes and the booking went through.</summary>
        Accept,

        /// <summary>The patient replied yes, but the slot was gone (another patient was first).</summary>
        Taken,

        /// <summary>The patient replied no.</summary>
        Decline,

        /// <summary>The offer ran out while the entry's window is still ahead.</summary>
        Expire,

        /// <summary>The offer ran out and the entry's window is over.</summary>
        ExpireAtWindowEnd,

        /// <summary>A waiting entry's window is over.</summary>
        WindowPassed,

        /// <summary>The patient leaves the list (DELETE).</summary>
        Leave,
    }

    /// <summary>One transition: from which entry statuses, to which entry status, and what the entry's open offer becomes.</summary>
    public sealed record Transition(Trigger Trigger, IReadOnlyList<string> EntryFrom, string EntryTo, string? OfferTo);

    /// <summary>The whole machine. An entry has at most one open offer; every trigger but Offer closes it (or has none).</summary>
    public static readonly IReadOnlyList<Transition> Transitions =
    [
        new(Trigger.Offer, [Waiting], Offered, OfferOpen),
        new(Trigger.Accept, [Offered], Booked, OfferAccepted),
        new(Trigger.Taken, [Offered], Waiting, OfferTaken),
        new(Trigger.Decline, [Offered], Waiting, OfferDeclined),
        new(Trigger.Expire, [Offered], Waiting, OfferExpired),
        new(Trigger.ExpireAtWindowEnd, [Offered], Expired, OfferExpired),
        new(Trigger.WindowPassed, [Waiting], Expired, null),
        new(Trigger.Leave, [Waiting, Offered], Cancelled, OfferCancelled),
    ];

    public static Transition Of(Trigger trigger) => Transitions.Single(t => t.Trigger == trigger);

    public static bool CanApply(Trigger trigger, string entryStatus) => Of(trigger).EntryFrom.Contains(entryStatus);

    private const string ApplyEntrySql = """
        update waitlist_entries
           set status = @EntryTo, updated_at = now()
         where clinic_id = @ClinicId and id = @EntryId and status = any(@EntryFrom)
        """;

    // Closes the open offer; a message that has not left yet stays unsent.
    private const string CloseOfferSql = """
        update waitlist_offers
           set status = @OfferTo, closed_at = now(), appointment_id = @AppointmentId
         where clinic_id = @ClinicId and id = @OfferId and status = 'offered';
        update outbox_messages
           set status = 'cancelled', locked_until = null, last_error = @Reason
         where clinic_id = @ClinicId and status in ('pending', 'sending')
           and id = (select message_id from waitlist_offers where clinic_id = @ClinicId and id = @OfferId);
        """;

    /// <summary>
    /// Applies a trigger to an entry (locked by the caller) and closes its open offer as its transition
    /// says. Answers false when the entry was no longer in a status the transition starts from (nothing changed).
    /// </summary>
    private static async Task<bool> ApplyAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid clinicId, Trigger trigger,
        Guid entryId, Guid? offerId, Guid? appointmentId, CancellationToken ct)
    {
        var transition = Of(trigger);
        var moved = await connection.ExecuteAsync(new CommandDefinition(ApplyEntrySql, new
        {
            ClinicId = clinicId,
            EntryId = entryId,
            transition.EntryTo,
            EntryFrom = transition.EntryFrom.ToArray(),
        }, transaction, cancellationToken: ct));
        if (moved == 0)
        {
            return false;
        }

        if (offerId is not null && transition.OfferTo is { } offerTo && offerTo != OfferOpen)
        {
            await connection.ExecuteAsync(new CommandDefinition(CloseOfferSql, new
            {
                ClinicId = clinicId,
                OfferId = offerId,
                OfferTo = offerTo,
                AppointmentId = appointmentId,
                Reason = $"waitlist offer {offerTo}",
            }, transaction, cancellationToken: ct));
        }

        return true;
    }

    // ---- Offering a freed slot ----------------------------------------------------------------

    private const string ReleaseContextSql = """
        select c.name as clinic_name, c.locale, c.timezone, c.offer_minutes, coalesce(w.enabled, false) as enabled,
               (select d.full_name from doctors d where d.clinic_id = c.id and d.id = @DoctorId) as doctor_name
        from clinics c
        left join whatsapp_configs w on w.clinic_id = c.id
        where c.id = @ClinicId
        """;

    // Waiting entries whose doctor and window fit, in waiting order, of reachable patients (a phone,
    // neither blocked nor erased) without an open offer. Locked; one a concurrent release holds is skipped.
    private const string CandidatesSql = """
        select e.id, e.patient_id, e.window_from, e.window_to, e.duration_minutes, p.full_name as patient_name, p.phone
        from waitlist_entries e
        join patients p on p.clinic_id = e.clinic_id and p.id = e.patient_id
        where e.clinic_id = @ClinicId and e.status = 'waiting'
          and (e.doctor_id is null or e.doctor_id = @DoctorId)
          and e.window_from < @To and e.window_to > @From
          and p.phone is not null and not p.blocked and p.erased_at is null
          and not exists (select 1 from waitlist_entries x
                          where x.clinic_id = e.clinic_id and x.patient_id = e.patient_id and x.status = 'offered')
        order by e.id
        limit @Limit
        for update of e skip locked
        """;

    private const string BookedSql = """
        select starts_at, ends_at
        from appointments
        where clinic_id = @ClinicId and doctor_id = @DoctorId and status not in ('cancelled', 'no_show')
          and starts_at > @EarliestStart and starts_at < @To and ends_at > @From
        order by starts_at
        """;

    private const string OfferSql = """
        insert into outbox_messages (id, clinic_id, channel, recipient, payload, kind, patient_id, due_at)
        values (@MessageId, @ClinicId, 'whatsapp', @Recipient, @Payload::jsonb, 'waitlist_offer', @PatientId, now());
        insert into waitlist_offers (id, clinic_id, entry_id, doctor_id, starts_at, ends_at, status, expires_at, message_id)
        values (@Id, @ClinicId, @EntryId, @DoctorId, @StartsAt, @EndsAt, @OfferTo, @ExpiresAt, @MessageId);
        """;

    private sealed record ReleaseContext(string ClinicName, string Locale, string Timezone, int OfferMinutes, bool Enabled,
        string? DoctorName);

    private sealed record Candidate(Guid Id, Guid PatientId, DateTimeOffset WindowFrom, DateTimeOffset WindowTo, int DurationMinutes,
        string PatientName, string Phone);

    private sealed record SpanRow(DateTimeOffset StartsAt, DateTimeOffset EndsAt);

    /// <summary>A freed slot offered in a request's transaction; wakes the sender after the commit.</summary>
    public static async Task<int> ReleaseAsync(DbScope scope, Guid clinicId, Guid doctorId, DateTimeOffset from, DateTimeOffset to,
        string cause, DateTimeOffset now, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(scope);
        var offers = await ReleaseAsync(await scope.ConnectionAsync(ct), scope.Transaction, clinicId, doctorId, from, to, cause, now, ct);
        if (offers > 0)
        {
            scope.OutboxTouched = true;
        }

        return offers;
    }

    /// <summary>
    /// The doctor's time [<paramref name="from"/>, <paramref name="to"/>) was freed (<paramref name="cause"/>):
    /// offers it to the waiting entries that fit, in waiting order, one entry per patient, at most
    /// <see cref="MaxOffersPerRelease"/>; answers how many offers were queued. Each entry is offered the
    /// earliest time inside its window and the freed time that lies in the doctor's hours and is free.
    /// Like reminders, offers go only to clinics with WhatsApp enabled and patients with a phone.
    /// </summary>
    public static async Task<int> ReleaseAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid clinicId,
        Guid doctorId, DateTimeOffset from, DateTimeOffset to, string cause, DateTimeOffset now, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(connection);
        CommandDefinition Command(string sql, object args) => new(sql, args, transaction, cancellationToken: ct);

        // Only what is still ahead can be offered.
        var spanFrom = from > now ? from : now;
        if (spanFrom >= to)
        {
            return 0;
        }

        var context = await connection.QuerySingleOrDefaultAsync<ReleaseContext>(Command(ReleaseContextSql,
            new { ClinicId = clinicId, DoctorId = doctorId }));
        if (context is null || !context.Enabled || context.DoctorName is null)
        {
            return 0;
        }

        var candidates = (await connection.QueryAsync<Candidate>(Command(CandidatesSql, new
        {
            ClinicId = clinicId,
            DoctorId = doctorId,
            From = spanFrom,
            To = to,
            Limit = CandidateLimit,
        }))).ToList();
        if (candidates.Count == 0)
        {
            return 0;
        }

        var lastEnd = candidates.Max(c => c.WindowTo) < to ? candidates.Max(c => c.WindowTo) : to;
        var schedule = await AppointmentRules.LoadScheduleAsync(connection, transaction, clinicId, doctorId, spanFrom, lastEnd, ct);
        if (schedule is null || !schedule.Active)
        {
            return 0;
        }

        var booked = (await connection.QueryAsync<SpanRow>(Command(BookedSql, new
        {
            ClinicId = clinicId,
            DoctorId = doctorId,
            From = spanFrom,
            To = lastEnd,
            EarliestStart = AppointmentRules.EarliestOverlappingStart(spanFrom),
        }))).Select(r => new AppointmentRules.Span(r.StartsAt, r.EndsAt)).ToList();

        var zone = TimeZoneInfo.FindSystemTimeZoneById(context.Timezone);
        var transition = Of(Trigger.Offer);
        var offered = new HashSet<Guid>();
        foreach (var entry in candidates)
        {
            if (offered.Count >= MaxOffersPerRelease)
            {
                break;
            }

            if (offered.Contains(entry.PatientId) || FirstFit(schedule, booked, entry, spanFrom, to, now) is not { } slot)
            {
                continue;
            }

            if (!await ApplyAsync(connection, transaction, clinicId, Trigger.Offer, entry.Id, null, null, ct))
            {
                continue;
            }

            // Open until the clinic's offer time runs out, and never past the slot's start.
            var limit = now.AddMinutes(context.OfferMinutes);
            var expiresAt = slot.Start < limit ? slot.Start : limit;
            var minutes = (int)Math.Ceiling((expiresAt - now).TotalMinutes);
            var offerId = Guid.CreateVersion7();
            await connection.ExecuteAsync(Command(OfferSql, new
            {
                Id = offerId,
                MessageId = Guid.CreateVersion7(),
                ClinicId = clinicId,
                Recipient = entry.Phone,
                Payload = JsonSerializer.Serialize(OfferPayload(context, entry.PatientName, slot.Start, zone, minutes), Outbox.PayloadJson),
                entry.PatientId,
                EntryId = entry.Id,
                DoctorId = doctorId,
                StartsAt = slot.Start,
                EndsAt = slot.End,
                transition.OfferTo,
                ExpiresAt = expiresAt,
            }));
            await connection.AuditAsync(transaction, clinicId, "system", null, "waitlist.offer", "waitlist_offer", offerId, new
            {
                entryId = entry.Id,
                patientId = entry.PatientId,
                doctorId,
                startsAt = slot.Start,
                endsAt = slot.End,
                expiresAt,
                cause,
            }, ct);
            offered.Add(entry.PatientId);
        }

        return offered.Count;
    }

    /// <summary>
    /// The earliest time for the entry inside both its window and the freed time, after now: the freed
    /// time's own start first when it is still ahead (the cancelled appointment's time), then the
    /// doctor's slot grid (what is left of a no-show's slot starts at the next step of the grid);
    /// inside the doctor's hours, clear of time off and of other bookings.
    /// </summary>
    private static AppointmentRules.Span? FirstFit(AppointmentRules.DoctorSchedule schedule, List<AppointmentRules.Span> booked,
        Candidate entry, DateTimeOffset freedFrom, DateTimeOffset freedTo, DateTimeOffset now)
    {
        var duration = TimeSpan.FromMinutes(entry.DurationMinutes);
        var from = entry.WindowFrom > freedFrom ? entry.WindowFrom : freedFrom;
        var to = entry.WindowTo < freedTo ? entry.WindowTo : freedTo;
        if (to - from < duration)
        {
            return null;
        }

        if (from > now && AppointmentRules.IsWithinSchedule(schedule, from, from + duration)
            && !booked.Any(b => b.Overlaps(from, from + duration)))
        {
            return new AppointmentRules.Span(from, from + duration);
        }

        foreach (var slot in AppointmentRules.FreeSlots(schedule, booked, duration, from, to, now))
        {
            if (slot.End <= to)
            {
                return slot;
            }
        }

        return null;
    }

    private static WhatsAppPayload OfferPayload(ReleaseContext context, string patientName, DateTimeOffset start, TimeZoneInfo zone,
        int minutes)
    {
        var local = TimeZoneInfo.ConvertTime(start, zone);
        var first = AppointmentReminders.FirstName(patientName);
        var date = AppointmentReminders.FormatDate(local, context.Locale);
        var time = local.ToString("HH:mm", CultureInfo.InvariantCulture);
        var doctor = context.DoctorName!;
        var count = minutes.ToString(CultureInfo.InvariantCulture);
        var text = new Text(
            $"Hello {first}, a slot opened at {context.ClinicName} with {doctor} on {date} at {time}. "
                + $"Reply 1 within {count} minutes to book it, or 2 if it does not suit you.",
            $"Hola {first}, se liberó un turno en {context.ClinicName} con {doctor} el {date} a las {time}. "
                + $"Responda 1 en los próximos {count} minutos para reservarlo o 2 si no le sirve.",
            $"Hallo {first}, in der Praxis {context.ClinicName} ist bei {doctor} am {date} um {time} Uhr ein Termin frei geworden. "
                + $"Antworten Sie innerhalb von {count} Minuten mit 1, um ihn zu buchen, oder mit 2, wenn er nicht passt.");
        return new WhatsAppPayload(text.In(context.Locale),
            new WhatsAppTemplate(Template, context.Locale, [first, context.ClinicName, doctor, date, time, count]), null);
    }

    // ---- The patient's reply ------------------------------------------------------------------

    // The message the patient quoted (WhatsApp's context.id), if it was sent to them.
    private const string QuotedSql = """
        select m.kind, m.appointment_id, o.id as offer_id
        from outbox_messages m
        left join waitlist_offers o on o.clinic_id = m.clinic_id and o.message_id = m.id
        where m.clinic_id = @ClinicId and m.channel = 'whatsapp' and m.provider_message_id = @ContextId
          and m.patient_id = any(@PatientIds)
        limit 1
        """;

    // The patient's newest open offer, if it is newer than the last reminder they could still answer.
    private const string NewestOpenSql = """
        select o.id
        from waitlist_offers o
        join waitlist_entries e on e.clinic_id = o.clinic_id and e.id = o.entry_id
        where o.clinic_id = @ClinicId and e.patient_id = any(@PatientIds) and o.status = 'offered' and o.expires_at > now()
          and o.created_at > coalesce((
              select max(m.sent_at)
              from outbox_messages m
              join appointments a on a.clinic_id = m.clinic_id and a.id = m.appointment_id
              where m.clinic_id = @ClinicId and m.patient_id = any(@PatientIds) and m.kind = 'reminder' and m.status = 'sent'
                and a.status in ('scheduled', 'confirmed') and a.starts_at > now()), '-infinity'::timestamptz)
        order by o.created_at desc, o.id desc
        limit 1
        """;

    private sealed record Quoted(string? Kind, Guid? AppointmentId, Guid? OfferId);

    /// <summary>
    /// Which offer a yes/no reply answers, or null when it answers a reminder (or nothing): a quoted
    /// offer is answered; a quoted reminder keeps its appointment; otherwise the patient's newest open
    /// offer, when it came after the last reminder they could still answer.
    /// </summary>
    public static async Task<Guid?> OfferAnsweredAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid clinicId,
        Guid[] patientIds, string? contextMessageId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(patientIds);
        if (patientIds.Length == 0)
        {
            return null;
        }

        if (contextMessageId is not null)
        {
            var quoted = await connection.QuerySingleOrDefaultAsync<Quoted>(new CommandDefinition(QuotedSql,
                new { ClinicId = clinicId, PatientIds = patientIds, ContextId = contextMessageId }, transaction, cancellationToken: ct));
            if (quoted?.OfferId is { } offerId)
            {
                return offerId;
            }

            if (quoted?.AppointmentId is not null)
            {
                return null;
            }
        }

        return await connection.QuerySingleOrDefaultAsync<Guid?>(new CommandDefinition(NewestOpenSql,
            new { ClinicId = clinicId, PatientIds = patientIds }, transaction, cancellationToken: ct));
    }

    private const string OfferEntrySql = "select entry_id from waitlist_offers where clinic_id = @ClinicId and id = @Id";

    // The entry first, then its offer: every path that waits for these locks takes them in this order.
    private const string LockEntrySql = """
        select status, window_to, patient_id
        from waitlist_entries
        where clinic_id = @ClinicId and id = @EntryId
        for update
        """;

    private const string LockOfferSql = """
        select o.doctor_id, o.starts_at, o.ends_at, o.status, o.expires_at, d.full_name as doctor_name
        from waitlist_offers o
        join doctors d on d.clinic_id = o.clinic_id and d.id = o.doctor_id
        where o.clinic_id = @ClinicId and o.id = @Id
        for update of o
        """;

    private static readonly string[] BookedFields = ["doctorId", "patientId", "startsAt", "endsAt"];

    private sealed record EntryRow(string Status, DateTimeOffset WindowTo, Guid PatientId);

    private sealed record OfferRow(Guid DoctorId, DateTimeOffset StartsAt, DateTimeOffset EndsAt, string Status, DateTimeOffset ExpiresAt,
        string DoctorName);

    /// <summary>What a reply to an offer did: the inbound outcome, the text answered, and the appointment booked.</summary>
    public sealed record Answer(string Outcome, string Reply, Guid PatientId, Guid? AppointmentId);

    /// <summary>
    /// A yes (<paramref name="accept"/>) or no to an offer, from the WhatsApp worker's transaction. Yes
    /// books through <see cref="AppointmentBooking"/> inside a savepoint: booked → the offer is
    /// accepted and the entry booked; refused (another patient was first, or the time is no longer
    /// bookable) → the offer is taken and the entry waits again. An offer past its time expires here
    /// if the worker has not got to it yet.
    /// </summary>
    public static async Task<Answer> AnswerAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid clinicId, Guid offerId,
        bool accept, string clinicName, string locale, string timezone, DateTimeOffset now, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(transaction);
        CommandDefinition Command(string sql, object args) => new(sql, args, transaction, cancellationToken: ct);

        var entryId = await connection.QuerySingleAsync<Guid>(Command(OfferEntrySql, new { ClinicId = clinicId, Id = offerId }));
        var entry = await connection.QuerySingleAsync<EntryRow>(Command(LockEntrySql, new { ClinicId = clinicId, EntryId = entryId }));
        var offer = await connection.QuerySingleAsync<OfferRow>(Command(LockOfferSql, new { ClinicId = clinicId, Id = offerId }));
        var closed = new Answer("waitlist_closed", Closed(clinicName).In(locale), entry.PatientId, null);
        if (offer.Status != OfferOpen)
        {
            return closed;
        }

        if (offer.ExpiresAt <= now || offer.StartsAt <= now)
        {
            await ExpireOfferAsync(connection, transaction, clinicId, offerId, entryId, entry.WindowTo, now, ct);
            return closed;
        }

        var zone = TimeZoneInfo.FindSystemTimeZoneById(timezone);
        var local = TimeZoneInfo.ConvertTime(offer.StartsAt, zone);
        var date = AppointmentReminders.FormatDate(local, locale);
        var time = local.ToString("HH:mm", CultureInfo.InvariantCulture);
        if (!accept)
        {
            await ApplyAsync(connection, transaction, clinicId, Trigger.Decline, entryId, offerId, null, ct);
            await connection.AuditAsync(transaction, clinicId, "public", entry.PatientId, "waitlist.decline", "waitlist_offer", offerId,
                new { entryId, actor = "patient", via = "whatsapp" }, ct);
            return new Answer("waitlist_declined", Declined().In(locale), entry.PatientId, null);
        }

        await transaction.SaveAsync("waitlist_book", ct);
        var booked = await AppointmentBooking.BookAsync(connection, transaction, new AppointmentBooking.Booking(clinicId, offer.DoctorId,
            entry.PatientId, offer.StartsAt, offer.EndsAt, null, null, AllowOutsideSchedule: false, CreatedBy: null), ct);
        if (booked.Outcome != AppointmentBooking.Outcome.Booked)
        {
            await transaction.RollbackAsync("waitlist_book", ct);
            await ApplyAsync(connection, transaction, clinicId, Trigger.Taken, entryId, offerId, null, ct);
            await connection.AuditAsync(transaction, clinicId, "public", entry.PatientId, "waitlist.taken", "waitlist_offer", offerId,
                new { entryId, reason = booked.Outcome.ToString(), actor = "patient", via = "whatsapp" }, ct);
            return new Answer("waitlist_taken", Taken(date, time, offer.DoctorName).In(locale), entry.PatientId, null);
        }

        await transaction.ReleaseAsync("waitlist_book", ct);
        await ApplyAsync(connection, transaction, clinicId, Trigger.Accept, entryId, offerId, booked.Id, ct);
        await AppointmentReminders.QueueAsync(connection, transaction, clinicId, booked.Id, now, ct);
        await connection.AuditAsync(transaction, clinicId, "public", entry.PatientId, "appointment.create", "appointment", booked.Id, new
        {
            fields = BookedFields,
            doctorId = offer.DoctorId,
            patientId = entry.PatientId,
            outsideSchedule = false,
            waitlistOfferId = offerId,
            actor = "patient",
            via = "whatsapp",
        }, ct);
        await connection.AuditAsync(transaction, clinicId, "public", entry.PatientId, "waitlist.accept", "waitlist_offer", offerId,
            new { entryId, appointmentId = booked.Id, actor = "patient", via = "whatsapp" }, ct);
        return new Answer("waitlist_booked", BookedText(date, time, offer.DoctorName).In(locale), entry.PatientId, booked.Id);
    }

    // ---- Expiry, leaving, erasure -------------------------------------------------------------

    /// <summary>An offer past its time (entry and offer locked by the caller): the entry waits again, or expires with its window.</summary>
    public static async Task<bool> ExpireOfferAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid clinicId, Guid offerId,
        Guid entryId, DateTimeOffset windowTo, DateTimeOffset now, CancellationToken ct)
    {
        var trigger = windowTo > now ? Trigger.Expire : Trigger.ExpireAtWindowEnd;
        if (!await ApplyAsync(connection, transaction, clinicId, trigger, entryId, offerId, null, ct))
        {
            return false;
        }

        await connection.AuditAsync(transaction, clinicId, "system", null, "waitlist.offer_expire", "waitlist_offer", offerId,
            new { entryId, entryStatus = Of(trigger).EntryTo }, ct);
        return true;
    }

    /// <summary>A waiting entry whose window is over (locked by the caller) expires.</summary>
    public static async Task<bool> ExpireEntryAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid clinicId, Guid entryId,
        CancellationToken ct)
    {
        if (!await ApplyAsync(connection, transaction, clinicId, Trigger.WindowPassed, entryId, null, null, ct))
        {
            return false;
        }

        await connection.AuditAsync(transaction, clinicId, "system", null, "waitlist.expire", "waitlist_entry", entryId,
            new { from = Waiting, to = Expired }, ct);
        return true;
    }

    private const string OpenOfferSql = """
        select id from waitlist_offers
        where clinic_id = @ClinicId and entry_id = @EntryId and status = 'offered'
        for update
        """;

    /// <summary>The patient leaves the list (entry locked by the caller): it is cancelled, with its open offer and unsent message.</summary>
    public static async Task<bool> LeaveAsync(DbScope scope, Guid clinicId, Guid entryId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(scope);
        var offerId = await scope.QuerySingleOrDefaultAsync<Guid?>(OpenOfferSql, new { ClinicId = clinicId, EntryId = entryId }, ct);
        return await ApplyAsync(await scope.ConnectionAsync(ct), scope.Transaction, clinicId, Trigger.Leave, entryId, offerId, null, ct);
    }

    // The list is not a record under a retention duty and its notes may describe the patient's health:
    // the patient's entries and offers go (the offer messages are blanked with the patient's other messages).
    private const string EraseSql = """
        delete from waitlist_offers o
         using waitlist_entries e
         where o.clinic_id = @ClinicId and e.clinic_id = @ClinicId and e.id = o.entry_id and e.patient_id = @Id;
        delete from waitlist_entries where clinic_id = @ClinicId and patient_id = @Id;
        """;

    /// <summary>Erasure: the patient's entries and offers are deleted.</summary>
    public static Task<int> EraseForPatientAsync(DbScope scope, Guid clinicId, Guid patientId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(scope);
        return scope.ExecuteAsync(EraseSql, new { ClinicId = clinicId, Id = patientId }, ct);
    }

    // ---- What the patient reads ---------------------------------------------------------------

    public static Text BookedText(string date, string time, string doctor) => new(
        $"Done! Your appointment on {date} at {time} with {doctor} is booked.",
        $"¡Listo! Su turno del {date} a las {time} con {doctor} quedó reservado.",
        $"Erledigt! Ihr Termin am {date} um {time} Uhr bei {doctor} ist gebucht.");

    public static Text Taken(string date, string time, string doctor) => new(
        $"Sorry, the slot on {date} at {time} with {doctor} has already been taken. You stay on the waiting list.",
        $"Lo sentimos, el turno del {date} a las {time} con {doctor} ya fue tomado. Sigue en la lista de espera.",
        $"Leider ist der Termin am {date} um {time} Uhr bei {doctor} bereits vergeben. Sie bleiben auf der Warteliste.");

    public static Text Declined() => new(
        "Understood. You stay on the waiting list for another slot.",
        "Entendido. Sigue en la lista de espera para otro turno.",
        "Verstanden. Sie bleiben auf der Warteliste für einen anderen Termin.");

    public static Text Closed(string clinic) => new(
        $"This offer is no longer available. If you need help, please contact {clinic}.",
        $"Esta oferta ya no está disponible. Si necesita ayuda, comuníquese con {clinic}.",
        $"Dieses Angebot ist nicht mehr verfügbar. Wenn Sie Hilfe brauchen, wenden Sie sich bitte an die Praxis {clinic}.");
}
