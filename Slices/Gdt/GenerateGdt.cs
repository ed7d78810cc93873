using System.Globalization;
using System.Text;
using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Consent;
using ClinicFlow.Slices.Settings;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Gdt;

/// <summary>
/// POST /api/gdt/generate: a GDT 2.1 file (record 6310, "Daten einer Untersuchung übermitteln")
/// documenting a consent form for the practice software. Every line is <c>LLLFFFFcontent</c> + CRLF,
/// LLL counting the line's bytes after encoding; <c>8100</c> holds the record's total bytes. The
/// text is ISO 8859-1 (<c>9206</c> = 3, default) or CP437 (2); characters the charset cannot hold
/// are transliterated (€ → EUR, ł → l), never dropped. Patient fields of the body win over stored ones.
/// </summary>
public sealed class GenerateGdt : ICarterModule
{
    public sealed record Request(Guid? ConsentId, string? ReceiverId, string? SenderId, int? Charset, PatientFields? Patient);

    public sealed record PatientFields(string? Number, string? LastName, string? FirstName, DateOnly? BirthDate, string? Gender);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.ConsentId).NotEmpty();
            RuleFor(r => r.ReceiverId).Matches(GdtId).When(r => r.ReceiverId is not null).WithMessage(GdtIdMessage);
            RuleFor(r => r.SenderId).Matches(GdtId).When(r => r.SenderId is not null).WithMessage(GdtIdMessage);
            RuleFor(r => r.Charset).Must(c => c is IsoCharset or Cp437Charset).When(r => r.Charset is not null)
                .WithMessage("Use 3 (ISO 8859-1) or 2 (CP437).");
            RuleFor(r => r.Patient!.Number).Matches("^[A-Za-z0-9]{1,10}$").When(r => r.Patient?.Number is not null)
                .WithMessage("The patient number (3000) has 1 to 10 letters or digits.");
            RuleFor(r => r.Patient!.LastName).MaximumLength(NameBytes).When(r => r.Patient is not null);
            RuleFor(r => r.Patient!.FirstName).MaximumLength(NameBytes).When(r => r.Patient is not null);
            RuleFor(r => r.Patient!.Gender).Must(g => g is "female" or "male" or "other" or "unknown")
                .When(r => r.Patient?.Gender is not null).WithMessage("Use female, male, other or unknown.");
            RuleFor(r => r.Patient!.BirthDate).InclusiveBetween(new DateOnly(1900, 1, 1), new DateOnly(2100, 1, 1))
                .When(r => r.Patient?.BirthDate is not null);
        }
    }

    public const int IsoCharset = 3;
    public const int Cp437Charset = 2;
    public const string Version = "02.10";

    private const string GdtId = "^[A-Za-z0-9]{1,8}$";
    private const string GdtIdMessage = "A GDT id (8315/8316) has 1 to 8 letters or digits.";
    private const int NameBytes = 28;
    private const int TextBytes = 60;

    private sealed record Form(Guid Id, string Type, string Title, string Status, DateTimeOffset? SubmittedAt, string FullName,
        DateOnly? BirthDate, string? Gender, string Timezone);

    private const string Sql = $"""
        select f.id, f.type, f.title, {ConsentRules.StatusSql} as status, f.submitted_at,
               p.full_name, p.birth_date, p.gender, c.timezone
        from consent_forms f
        join patients p on p.clinic_id = f.clinic_id and p.id = f.patient_id
        join clinics c on c.id = f.clinic_id
        where f.clinic_id = @ClinicId and f.id = @Id and f.locked_at is null and p.erased_at is null
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/gdt")
            .MapPost("/generate", Handle)
            .RequireDoctorOrAdmin()
            .WithName(nameof(GenerateGdt))
            .WithSummary("A GDT 2.1 file (record 6310) documenting a consent form, for the practice software")
            .Produces<Stream>(StatusCodes.Status200OK, "application/octet-stream");

    private static async Task<Results<FileContentHttpResult, ApiProblem>> Handle(
        Request request, Tenant tenant, Validator validator, TimeProvider clock, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        var form = await tenant.QuerySingleOrDefaultAsync<Form>(Sql, new { tenant.ClinicId, Id = request.ConsentId }, ct);
        if (form is null)
        {
            return ApiProblem.NotFound();
        }

        var settings = await SettingsRules.ReadAsync(tenant, tenant.ClinicId, ct);
        var charset = request.Charset ?? IsoCharset;
        var record = new Record(charset);
        var details = new Dictionary<string, string[]>();
        var receiver = request.ReceiverId.TrimToNull() ?? settings.GdtReceiverId;
        var sender = request.SenderId.TrimToNull() ?? settings.GdtSenderId;
        if (receiver is null)
        {
            details["receiverId"] = ["Give receiverId or set gdtReceiverId in the settings."];
        }

        if (sender is null)
        {
            details["senderId"] = ["Give senderId or set gdtSenderId in the settings."];
        }

        var patient = request.Patient;
        if (patient?.Number.TrimToNull() is not { } number)
        {
            details["patient.number"] = ["The practice software's patient number (3000) is required."];
            number = "";
        }

        // The stored name is one text: its last word is taken as the family name unless the body says otherwise.
        var (storedFirst, storedLast) = SplitName(form.FullName);
        var lastName = patient?.LastName.TrimToNull() ?? storedLast;
        var firstName = patient?.FirstName.TrimToNull() ?? storedFirst;
        if (record.Encode(lastName).Length > NameBytes)
        {
            details["patient.lastName"] = [$"The family name (3101) holds at most {NameBytes} characters; send a shorter patient.lastName."];
        }

        if (record.Encode(firstName).Length > NameBytes)
        {
            details["patient.firstName"] = [$"The first name (3102) holds at most {NameBytes} characters; send a shorter patient.firstName."];
        }

        if (details.Count > 0)
        {
            return ApiProblem.Validation(details);
        }

        var zone = TimeZoneInfo.FindSystemTimeZoneById(form.Timezone);
        var documented = TimeZoneInfo.ConvertTime(form.SubmittedAt ?? clock.GetUtcNow(), zone);
        var birthDate = patient?.BirthDate ?? form.BirthDate;
        var gender = (patient?.Gender ?? form.Gender) switch
        {
            "male" => "1",
            "female" => "2",
            _ => null,
        };

        record.Add("8315", receiver!);
        record.Add("8316", sender!);
        record.Add("9206", charset.ToString(CultureInfo.InvariantCulture));
        record.Add("9218", Version);
        record.Add("3000", number);
        record.Add("3101", lastName);
        if (firstName.Length > 0)
        {
            record.Add("3102", firstName);
        }

        if (birthDate is { } born)
        {
            record.Add("3103", born.ToString("ddMMyyyy", CultureInfo.InvariantCulture));
        }

        if (gender is not null)
        {
            record.Add("3110", gender);
        }

        record.Add("6200", documented.ToString("ddMMyyyy", CultureInfo.InvariantCulture));
        record.Add("6201", documented.ToString("HHmmss", CultureInfo.InvariantCulture));
        record.AddText("6220", $"Einwilligung: {form.Type}");
        record.AddText("6220", $"Titel: {form.Title}");
        record.AddText("6220", $"Status: {StatusText(form.Status)}");
        record.AddText("6227", form.SubmittedAt is { } submitted
            ? $"Übermittelt am {TimeZoneInfo.ConvertTime(submitted, zone).ToString("dd.MM.yyyy HH:mm:ss", CultureInfo.InvariantCulture)}"
            : "Nicht übermittelt");

        await tenant.AuditAsync("consent.gdt_export", "consent_form", form.Id, new { charset }, ct);
        return TypedResults.File(record.ToBytes(), "application/octet-stream", $"consent-{form.Id:N}.gdt");
    }

    private static string StatusText(string status) => status switch
    {
        ConsentRules.Submitted => "unterschrieben",
        ConsentRules.Revoked => "widerrufen",
        ConsentRules.Expired => "abgelaufen",
        _ => "offen",
    };

    private static (string First, string Last) SplitName(string fullName)
    {
        var words = fullName.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return words.Length switch
        {
            0 => ("", ""),
            1 => ("", words[0]),
            _ => (string.Join(' ', words[..^1]), words[^1]),
        };
    }

    /// <summary>One GDT record: lines of <c>LLLFFFF</c> + content + CRLF in the record's charset, 8000 and 8100 first.</summary>
    private sealed class Record(int charset)
    {
        private readonly Encoding _encoding = GdtEncoding.For(charset);
        private readonly List<byte[]> _lines = [];

        public byte[] Encode(string text) => _encoding.GetBytes(Clean(text));

        public void Add(string field, string content) => _lines.Add(Line(field, Encode(content)));

        /// <summary>A free text over as many lines of the field as it needs, broken at spaces where it can.</summary>
        public void AddText(string field, string text)
        {
            var bytes = Encode(text).AsSpan();
            while (bytes.Length > TextBytes)
            {
                var cut = bytes[..TextBytes].LastIndexOf((byte)' ');
                var take = cut > TextBytes / 2 ? cut + 1 : TextBytes;
                _lines.Add(Line(field, bytes[..take].TrimEnd((byte)' ').ToArray()));
                bytes = bytes[take..];
            }

            _lines.Add(Line(field, bytes.ToArray()));
        }

        public byte[] ToBytes()
        {
            var head = Line("8000", "6310"u8.ToArray());
            const int lengthLine = 3 + 4 + 5 + 2;
            var total = head.Length + lengthLine + _lines.Sum(l => l.Length);
            var length = Line("8100", Encoding.ASCII.GetBytes(total.ToString("D5", CultureInfo.InvariantCulture)));
            using var output = new MemoryStream(total);
            output.Write(head);
            output.Write(length);
            foreach (var line in _lines)
            {
                output.Write(line);
            }

            return output.ToArray();
        }

        private static byte[] Line(string field, byte[] content)
        {
            var length = 3 + 4 + content.Length + 2;
            if (length > 999)
            {
                throw new InvalidOperationException($"GDT field {field} is longer than a line can hold.");
            }

            var line = new byte[length];
            Encoding.ASCII.GetBytes(length.ToString("D3", CultureInfo.InvariantCulture) + field, line);
            content.CopyTo(line, 7);
            line[^2] = (byte)'\r';
            line[^1] = (byte)'\n';
            return line;
        }

        // A line break or tab inside a value would end or shift the line: they become spaces.
        private static string Clean(string text) =>
            string.Create(text.Length, text, (span, source) =>
            {
                for (var i = 0; i < source.Length; i++)
                {
                    span[i] = char.IsControl(source[i]) ? ' ' : source[i];
                }
            });
    }
}

/// <summary>The two GDT charsets with a fallback that transliterates instead of dropping or guessing.</summary>
internal static class GdtEncoding
{
    private static readonly Encoding Iso = Encoding.GetEncoding("iso-8859-1", new Transliteration(), DecoderFallback.ExceptionFallback);

    private static readonly Encoding Cp437 = Create437();

    public static Encoding For(int charset) => charset == GenerateGdt.Cp437Charset ? Cp437 : Iso;

    private static Encoding Create437()
    {
        var encoding = (Encoding)CodePagesEncodingProvider.Instance.GetEncoding(437)!.Clone();
        encoding.EncoderFallback = new Transliteration();
        encoding.DecoderFallback = DecoderFallback.ExceptionFallback;
        return encoding;
    }

    // U+00C0..U+017F to their ASCII base letter (from their canonical decomposition), '?' where it takes two.
    private const string Latin = "AAAAAA?CEEEEIIIIDNOOOOOxOUUUUY??aaaaaa?ceeeeiiiidnooooo:ouuuuy?y"
        + "AaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGgGgGgHhHhIiIiIiIiIi??JjKkkLlLlLlLlLlNnNnNnnNnOoOoOo??RrRrRrSsSsSsSsTtTtTtUuUuUuUuUuUuWwYyYZzZzZzs";

    private static readonly Dictionary<char, string> Special = new()
    {
        ['€'] = "EUR", ['Æ'] = "AE", ['æ'] = "ae", ['Þ'] = "TH", ['þ'] = "th", ['ß'] = "ss", ['Ĳ'] = "IJ", ['ĳ'] = "ij",
        ['Œ'] = "OE", ['œ'] = "oe", ['‘'] = "'", ['’'] = "'", ['‚'] = "'", ['“'] = "\"", ['”'] = "\"", ['„'] = "\"",
        ['–'] = "-", ['—'] = "-", ['…'] = "...", ['•'] = "*", ['§'] = "Par.", ['©'] = "(C)", ['®'] = "(R)", ['™'] = "(TM)",
        ['°'] = "Grad", ['µ'] = "u", ['²'] = "2", ['³'] = "3", ['¹'] = "1", ['½'] = "1/2", ['¼'] = "1/4", ['¾'] = "3/4",
        ['«'] = "<<", ['»'] = ">>", ['\u00A0'] = " ", ['\u00AD'] = "-", ['·'] = ".", ['¿'] = "?", ['¡'] = "!",
        ['Ș'] = "S", ['ș'] = "s", ['Ț'] = "T", ['ț'] = "t", ['ƒ'] = "f",
    };

    /// <summary>The ASCII spelling of a character the charset cannot hold; '?' when there is none.</summary>
    public static string Transliterate(char c) =>
        Special.TryGetValue(c, out var text) ? text
        : c is >= '\u00C0' and <= '\u017F' && Latin[c - '\u00C0'] != '?' ? Latin[c - '\u00C0'].ToString()
        : "?";

    private sealed class Transliteration : EncoderFallback
    {
        public override int MaxCharCount => 4;

        public override EncoderFallbackBuffer CreateFallbackBuffer() => new Buffer();

        private sealed class Buffer : EncoderFallbackBuffer
        {
            private string _replacement = "";
            private int _position;

            public override int Remaining => _replacement.Length - _position;

            public override bool Fallback(char charUnknown, int index)
            {
                _replacement = Transliterate(charUnknown);
                _position = 0;
                return true;
            }

            public override bool Fallback(char charUnknownHigh, char charUnknownLow, int index)
            {
                _replacement = "?";
                _position = 0;
                return true;
            }

            public override char GetNextChar() => _position < _replacement.Length ? _replacement[_position++] : '\0';

            public override bool MovePrevious()
            {
                if (_position == 0)
                {
                    return false;
                }

                _position--;
                return true;
            }

            public override void Reset()
            {
                _replacement = "";
                _position = 0;
            }
        }
    }
}
