using ClinicFlow.Infrastructure;

namespace ClinicFlow.Slices.Clinics;

/// <summary>Rules of the clinic row every feature reads: plans, limits, country defaults.</summary>
public static class ClinicRules
{
    public const int TrialDays = 14;

    public static readonly string[] Plans = ["basic", "pro", "enterprise"];

    public static readonly string[] Locales = ["en", "es", "de"];

    /// <summary>The clinics.subscription_status values (Stripe's vocabulary plus expired).</summary>
    public static readonly string[] SubscriptionStatuses = ["trialing", "active", "past_due", "canceled", "expired"];

    /// <summary>Plan limits of SPEC §2 (null = unlimited); a superadmin override wins.</summary>
    public static (int? Doctors, int? Users) Limits(string plan, int? maxDoctorsOverride, int? maxUsersOverride)
    {
        var (doctors, users) = plan switch
        {
            "basic" => ((int?)2, (int?)5),
            "pro" => (10, 25),
            _ => ((int?)null, (int?)null),
        };
        return (maxDoctorsOverride ?? doctors, maxUsersOverride ?? users);
    }

    // The clinic row is the lock that makes concurrent creations and reactivations of one clinic
    // count one after another. The count must be a statement of its own, after the lock: a subquery
    // of the locking statement reads the snapshot taken before it waited, so it would miss the user
    // the previous lock holder just committed.
    private const string LockForUsersSql = """
        select plan, max_users_override
        from clinics
        where id = @ClinicId
        for update
        """;

    // Seats taken: active users plus open invites (not accepted, revoked or expired). An invite that is
    // about to be replaced (same address) does not count against its own replacement.
    private const string ActiveUsersSql = """
        select (select count(*) from users where clinic_id = @ClinicId and active)
             + (select count(*) from team_invites
                where clinic_id = @ClinicId and accepted_at is null and revoked_at is null and expires_at > now()
                  and (@ExceptEmail::citext is null or email <> @ExceptEmail::citext))
        """;

    private sealed record UserPlan(string Plan, int? MaxUsersOverride);

    /// <summary>
    /// Locks the clinic row, then tells whether one more active user fits the plan; open invites count
    /// as users (SPEC §2), except the open invite to <paramref name="exceptInviteEmail"/>, which the
    /// caller is about to replace.
    /// </summary>
    public static async Task<UserCapacity> UserCapacityAsync(DbScope scope, Guid clinicId, CancellationToken ct,
        string? exceptInviteEmail = null)
    {
        ArgumentNullException.ThrowIfNull(scope);
        var plan = await scope.QuerySingleAsync<UserPlan>(LockForUsersSql, new { ClinicId = clinicId }, ct);
        var taken = await scope.QuerySingleAsync<long>(ActiveUsersSql, new { ClinicId = clinicId, ExceptEmail = exceptInviteEmail }, ct);
        return new UserCapacity(plan.Plan, plan.MaxUsersOverride, (int)taken);
    }

    /// <summary>What the plan allows against the seats taken (active users plus open invites).</summary>
    public sealed record UserCapacity(string Plan, int? MaxUsersOverride, int Seats)
    {
        public bool HasRoom => Limits(Plan, null, MaxUsersOverride).Users is not { } max || Seats < max;
    }

    private static readonly Dictionary<string, (string Currency, string Locale, string Timezone)> Countries = new()
    {
        ["AR"] = ("ARS", "es", "America/Argentina/Buenos_Aires"),
        ["BO"] = ("BOB", "es", "America/La_Paz"),
        ["BR"] = ("BRL", "es", "America/Sao_Paulo"),
        ["CL"] = ("CLP", "es", "America/Santiago"),
        ["CO"] = ("COP", "es", "America/Bogota"),
        ["CR"] = ("CRC", "es", "America/Costa_Rica"),
        ["EC"] = ("USD", "es", "America/Guayaquil"),
        ["MX"] = ("MXN", "es", "America/Mexico_City"),
        ["PE"] = ("PEN", "es", "America/Lima"),
        ["PY"] = ("PYG", "es", "America/Asuncion"),
        ["UY"] = ("UYU", "es", "America/Montevideo"),
        ["VE"] = ("VES", "es", "America/Caracas"),
        ["ES"] = ("EUR", "es", "Europe/Madrid"),
        ["DE"] = ("EUR", "de", "Europe/Berlin"),
        ["AT"] = ("EUR", "de", "Europe/Vienna"),
        ["CH"] = ("CHF", "de", "Europe/Zurich"),
        ["US"] = ("USD", "en", "America/New_York"),
        ["GB"] = ("GBP", "en", "Europe/London"),
    };

    /// <summary>Where a new clinic starts: what the caller gave, else the country's defaults (docs/decisions.md).</summary>
    public sealed record Setup(string Country, string Timezone, string Currency, string Locale);

    public static Setup NewClinic(string? country, string? timezone, string? locale)
    {
        var code = country ?? "US";
        return new Setup(code, timezone ?? TimezoneFor(code), CurrencyFor(code), locale ?? (country is null ? "en" : LocaleFor(code)));
    }

    public static string CurrencyFor(string country) => Countries.TryGetValue(country, out var c) ? c.Currency : "USD";

    public static string LocaleFor(string country) => Countries.TryGetValue(country, out var c) ? c.Locale : "en";

    public static string TimezoneFor(string country) => Countries.TryGetValue(country, out var c) ? c.Timezone : "UTC";

    /// <summary>True for an IANA zone id this machine's time-zone database knows.</summary>
    public static bool IsTimezone(string? id) =>
        !string.IsNullOrWhiteSpace(id)
        && (id == "UTC" || id.Contains('/', StringComparison.Ordinal))
        && TimeZoneInfo.TryFindSystemTimeZoneById(id, out _);

    private static readonly PhoneNumbers.PhoneNumberUtil Phones = PhoneNumbers.PhoneNumberUtil.GetInstance();

    /// <summary>
    /// A phone number in E.164 (<c>+5491122334455</c>): international input as given, national input
    /// read with the clinic's country. Null when it is not a possible number.
    /// </summary>
    public static string? NormalizePhone(string? input, string country)
    {
        if (string.IsNullOrWhiteSpace(input))
        {
            return null;
        }

        try
        {
            var number = Phones.Parse(input, country);
            return Phones.IsPossibleNumber(number) ? Phones.Format(number, PhoneNumbers.PhoneNumberFormat.E164) : null;
        }
        catch (PhoneNumbers.NumberParseException)
        {
            return null;
        }
    }

    /// <summary>
    /// The phone in E.164, national formats read with the caller's clinic's country (known from the
    /// gate's check, so no round trip of its own; a caller without a clinic must give the
    /// international form); the problem names the field when the input is not a possible number.
    /// Null or blank input stays null.
    /// </summary>
    public static async Task<(string? Phone, ApiProblem? Problem)> NormalizePhoneAsync(Tenant tenant, string? input,
        CancellationToken ct, string field = "phone")
    {
        ArgumentNullException.ThrowIfNull(tenant);
        if (string.IsNullOrWhiteSpace(input))
        {
            return (null, null);
        }

        var country = tenant.HasClinic ? await tenant.CountryAsync(ct) ?? "ZZ" : "ZZ";
        return NormalizePhone(input, country) is { } phone
            ? (phone, null)
            : (null, InvalidPhone(field));
    }

    /// <summary>The 400 for input that cannot be a phone number.</summary>
    public static ApiProblem InvalidPhone(string field = "phone") => ApiProblem.Validation(field, new(
        "This is not a valid phone number.", "No es un número de teléfono válido.", "Das ist keine gültige Telefonnummer."));

    public static bool IsCountry(string? code) => code is { Length: 2 } && code.All(char.IsAsciiLetterUpper);
}
