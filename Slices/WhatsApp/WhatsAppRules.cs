using System.Text;
using ClinicFlow.Infrastructure;

namespace ClinicFlow.Slices.WhatsApp;

/// <summary>What the bot understands and says: reply words, FAQ search, and its texts in the clinic's language.</summary>
public static class WhatsAppRules
{
    public enum Intent
    {
        Other,
        Confirm,
        Cancel,
    }

    private static readonly HashSet<string> ConfirmWords = ["1", "si", "yes", "ja", "confirmar", "confirmo", "confirm", "bestatigen"];

    private static readonly HashSet<string> CancelWords = ["2", "no", "nein", "cancelar", "cancelo", "cancel", "absagen"];

    /// <summary>A whole reply of one word (accents, case and surrounding punctuation ignored) confirms or cancels.</summary>
    public static Intent ParseIntent(string? body)
    {
        if (body is null)
        {
            return Intent.Other;
        }

        var word = Fold(body).Trim().Trim('.', '!', '?', '¡', '¿', ',', ';', ' ', '*', '"', '\'');
        return ConfirmWords.Contains(word) ? Intent.Confirm
            : CancelWords.Contains(word) ? Intent.Cancel
            : Intent.Other;
    }

    /// <summary>Lower case without the accents of Spanish and German (invariant globalization has no normalisation data).</summary>
    public static string Fold(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var folded = new StringBuilder(text.Length);
        foreach (var c in text.ToLowerInvariant())
        {
            folded.Append(c switch
            {
                'á' or 'à' or 'â' or 'ä' => 'a',
                'é' or 'è' or 'ê' or 'ë' => 'e',
                'í' or 'ì' or 'î' or 'ï' => 'i',
                'ó' or 'ò' or 'ô' or 'ö' => 'o',
                'ú' or 'ù' or 'û' or 'ü' => 'u',
                'ñ' => 'n',
                _ => c,
            });
        }

        return folded.ToString();
    }

    /// <summary>
    /// The best active FAQ answer for a text, by full-text search in the clinic's language with
    /// accents folded: keywords weigh most (A), then the question (B), then the answer (D); any word
    /// of the message may match (the words are OR-ed), the rank orders the candidates.
    /// </summary>
    public const string FaqSql = """
        with q as (
            select c.cfg, replace(plainto_tsquery(c.cfg, @Text)::text, ' & ', ' | ')::tsquery as query
            from (select (case @Locale when 'es' then 'unaccent_spanish' when 'de' then 'unaccent_german'
                                       else 'unaccent_english' end)::regconfig as cfg) c
        )
        select f.answer
        from faq_entries f
        cross join q
        cross join lateral (
            select setweight(to_tsvector(q.cfg, array_to_string(f.keywords, ' ')), 'A')
                || setweight(to_tsvector(q.cfg, f.question), 'B')
                || setweight(to_tsvector(q.cfg, f.answer), 'D') as doc
        ) d
        where f.clinic_id = @ClinicId and f.active and d.doc @@ q.query
        order by ts_rank(d.doc, q.query) desc, f.id
        limit 1
        """;

    public static Text Confirmed(string date, string time, string doctor) => new(
        $"Thank you! Your appointment on {date} at {time} with {doctor} is confirmed.",
        $"¡Gracias! Su turno del {date} a las {time} con {doctor} quedó confirmado.",
        $"Danke! Ihr Termin am {date} um {time} Uhr bei {doctor} ist bestätigt.");

    public static Text Cancelled(string date, string time, string doctor) => new(
        $"Your appointment on {date} at {time} with {doctor} has been cancelled. Write to us if you would like another time.",
        $"Su turno del {date} a las {time} con {doctor} fue cancelado. Escríbanos si desea otro horario.",
        $"Ihr Termin am {date} um {time} Uhr bei {doctor} wurde abgesagt. Schreiben Sie uns, wenn Sie einen anderen Termin möchten.");

    public static Text CannotChange(string clinic) => new(
        $"This appointment can no longer be changed here. Please contact {clinic}.",
        $"Ese turno ya no se puede modificar por este medio. Por favor, comuníquese con {clinic}.",
        $"Dieser Termin kann hier nicht mehr geändert werden. Bitte wenden Sie sich an die Praxis {clinic}.");

    public static Text NoAppointment(string clinic) => new(
        $"We found no upcoming appointment to confirm or cancel. Please contact {clinic}.",
        $"No encontramos un turno próximo para confirmar o cancelar. Por favor, comuníquese con {clinic}.",
        $"Wir haben keinen anstehenden Termin zum Bestätigen oder Absagen gefunden. Bitte wenden Sie sich an die Praxis {clinic}.");

    public static Text Fallback(string clinic) => new(
        $"Thank you for your message. The team of {clinic} will answer you soon.",
        $"Gracias por su mensaje. El equipo de {clinic} le responderá a la brevedad.",
        $"Danke für Ihre Nachricht. Das Team der Praxis {clinic} antwortet Ihnen bald.");

    /// <summary>The text of <paramref name="text"/> in a clinic's language (not the request's: the patient reads it).</summary>
    public static string In(this Text text, string locale)
    {
        ArgumentNullException.ThrowIfNull(text);
        return locale switch
        {
            "es" => text.Es,
            "de" => text.De,
            _ => text.En,
        };
    }
}
