using Carter;
using ClinicFlow.Infrastructure;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Clinics;

/// <summary>PATCH /api/clinics/current: an admin updates the clinic profile, reminder rules, ICS privacy and waitlist offer time.</summary>
public sealed class UpdateCurrentClinic : ICarterModule
{
    /// <summary>Every field is optional: null leaves it unchanged; an empty phone or address clears it.</summary>
    public sealed record Request(string? Name, string? Timezone, string? Country, string? Currency, string? Locale,
        string? Phone, string? Address, int[]? ReminderHours, bool? IcsShowPatientNames, int? OfferMinutes = null);

    public const int MaxReminders = 5;
    public const int MaxReminderHours = 168;
    public const int MinOfferMinutes = 5;
    public const int MaxOfferMinutes = 1440;

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.Name).NotEmpty().MaximumLength(200).When(r => r.Name is not null);
            RuleFor(r => r.Timezone).Must(ClinicRules.IsTimezone).When(r => r.Timezone is not null)
                .WithMessage("Unknown IANA time zone.");
            RuleFor(r => r.Country).Must(ClinicRules.IsCountry).When(r => r.Country is not null)
                .WithMessage("Use an ISO 3166-1 alpha-2 code such as AR or DE.");
            RuleFor(r => r.Currency).Must(c => c is { Length: 3 } && c.All(char.IsAsciiLetterUpper)).When(r => r.Currency is not null)
                .WithMessage("Use an ISO 4217 code such as ARS or EUR.");
            RuleFor(r => r.Locale).Must(l => ClinicRules.Locales.Contains(l)).When(r => r.Locale is not null)
                .WithMessage("Use en, es or de.");
            RuleFor(r => r.Phone).MaximumLength(40);
            RuleFor(r => r.Address).MaximumLength(500);
            RuleFor(r => r.ReminderHours)
                .Must(h => h!.Length <= MaxReminders && h.Distinct().Count() == h.Length && h.All(x => x is >= 1 and <= MaxReminderHours))
                .When(r => r.ReminderHours is not null)
                .WithMessage($"Give up to {MaxReminders} distinct hours, each between 1 and {MaxReminderHours}.");
            RuleFor(r => r.OfferMinutes).InclusiveBetween(MinOfferMinutes, MaxOfferMinutes);
        }
    }

    private const string BeforeSql = """
        select id, name, timezone, country, currency, locale, phone, address, plan, subscription_status,
               subscription_expires_at, reminder_hours, ics_show_patient_names, offer_minutes, active, created_at
        from clinics
        where id = @ClinicId
        for update
        """;

    private const string Sql = """
        update clinics
        set name = coalesce(@Name, name),
            timezone = coalesce(@Timezone, timezone),
            country = coalesce(@Country, country),
            currency = coalesce(@Currency, currency),
            locale = coalesce(@Locale, locale),
            phone = nullif(coalesce(@Phone, phone), ''),
            address = nullif(coalesce(@Address, address), ''),
            reminder_hours = coalesce(@ReminderHours::int[], reminder_hours),
            ics_show_patient_names = coalesce(@IcsShowPatientNames, ics_show_patient_names),
            offer_minutes = coalesce(@OfferMinutes, offer_minutes),
            updated_at = now()
        where id = @ClinicId
        returning id, name, timezone, country, currency, locale, phone, address, plan, subscription_status,
                  subscription_expires_at, reminder_hours, ics_show_patient_names, offer_minutes, active, created_at
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/clinics")
            .MapPatch("/current", Handle)
            .RequireAdmin()
            .WithName(nameof(UpdateCurrentClinic))
            .WithSummary("Update the clinic profile, reminder rules (hours before), ICS privacy and waitlist offer minutes");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(
        Request request, Tenant tenant, Validator validator, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        var before = await tenant.QuerySingleOrDefaultAsync<Response>(BeforeSql, new { tenant.ClinicId }, ct);
        if (before is null)
        {
            return ApiProblem.NotFound();
        }

        var after = await tenant.QuerySingleAsync<Response>(Sql, new
        {
            tenant.ClinicId,
            Name = request.Name?.Trim(),
            request.Timezone,
            request.Country,
            request.Currency,
            request.Locale,
            Phone = request.Phone?.Trim(),
            Address = request.Address?.Trim(),
            ReminderHours = request.ReminderHours?.OrderDescending().ToArray(),
            request.IcsShowPatientNames,
            request.OfferMinutes,
        }, ct);

        var changes = Changes(before, after);
        if (changes.Count > 0)
        {
            await tenant.AuditAsync("clinic.update", "clinic", after.Id, changes, ct);
        }

        return TypedResults.Ok(after);
    }

    private static Dictionary<string, object?> Changes(Response before, Response after)
    {
        var changes = new Dictionary<string, object?>();
        void Compare<T>(string field, T old, T now)
        {
            if (!EqualityComparer<T>.Default.Equals(old, now))
            {
                changes[field] = now;
            }
        }

        Compare("name", before.Name, after.Name);
        Compare("timezone", before.Timezone, after.Timezone);
        Compare("country", before.Country, after.Country);
        Compare("currency", before.Currency, after.Currency);
        Compare("locale", before.Locale, after.Locale);
        Compare("phone", before.Phone, after.Phone);
        Compare("address", before.Address, after.Address);
        if (!before.ReminderHours.SequenceEqual(after.ReminderHours))
        {
            changes["reminderHours"] = after.ReminderHours;
        }

        Compare("icsShowPatientNames", before.IcsShowPatientNames, after.IcsShowPatientNames);
        Compare("offerMinutes", before.OfferMinutes, after.OfferMinutes);
        return changes;
    }

    // Npgsql reports int[] columns as System.Array, which Dapper's constructor matching refuses; property mapping casts.
    public sealed record Response
    {
        public Guid Id { get; init; }

        public string Name { get; init; } = "";

        public string Timezone { get; init; } = "";

        public string Country { get; init; } = "";

        public string Currency { get; init; } = "";

        public string Locale { get; init; } = "";

        public string? Phone { get; init; }

        public string? Address { get; init; }

        public string Plan { get; init; } = "";

        public string SubscriptionStatus { get; init; } = "";

        public DateTimeOffset? SubscriptionExpiresAt { get; init; }

        public int[] ReminderHours { get; init; } = [];

        public bool IcsShowPatientNames { get; init; }

        /// <summary>How long a waitlist offer stays open (docs/waitlist.md).</summary>
        public int OfferMinutes { get; init; }

        public bool Active { get; init; }

        public DateTimeOffset CreatedAt { get; init; }
    }
}
