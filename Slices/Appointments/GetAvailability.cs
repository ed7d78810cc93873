using System.Globalization;
using System.Text.RegularExpressions;
using Carter;
using ClinicFlow.Infrastructure;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Appointments;

/// <summary>
/// GET /api/appointments/availability: a doctor's free slots between <c>from</c> and <c>to</c>,
/// honouring weekly hours in the clinic's zone (DST-correct), time off and bookings; never in the past.
/// </summary>
public sealed partial class GetAvailability : ICarterModule
{
    /// <summary><c>from</c>/<c>to</c>: an ISO 8601 instant with offset, or a date meaning that local day's start (from) or end (to).</summary>
    public sealed record Request(Guid? DoctorId, string? From, string? To, int? DurationMinutes);

    public sealed class Validator : AbstractValidator<Request>
    {
        private const string Format = "Use an instant with offset (2026-03-01T14:00:00Z) or a date (2026-03-01).";

        public Validator()
        {
            RuleFor(r => r.DoctorId).NotEmpty();
            RuleFor(r => r.From).NotEmpty();
            RuleFor(r => r.From).Must(v => Parse(v) is not null).WithMessage(Format).When(r => !string.IsNullOrWhiteSpace(r.From));
            RuleFor(r => r.To).NotEmpty();
            RuleFor(r => r.To).Must(v => Parse(v) is not null).WithMessage(Format).When(r => !string.IsNullOrWhiteSpace(r.To));
            RuleFor(r => r.DurationMinutes).InclusiveBetween(5, AppointmentRules.MaxDurationMinutes);
        }
    }

    private const string ZoneSql = "select timezone from clinics where id = @ClinicId";

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/appointments")
            .MapGet("/availability", Handle)
            .WithName(nameof(GetAvailability))
            .WithSummary("Free slots of a doctor between from and to (UTC instants)");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(
        [AsParameters] Request request, Tenant tenant, Validator validator, TimeProvider clock, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        // Dates name local days: the clinic's zone first. Instants need no zone until the window's
        // length is counted, which the schedule's round trip brings along.
        var (start, end) = (Parse(request.From)!.Value, Parse(request.To)!.Value);
        var zone = start.Instant is null || end.Instant is null
            ? TimeZoneInfo.FindSystemTimeZoneById(await tenant.QuerySingleAsync<string>(ZoneSql, new { tenant.ClinicId }, ct))
            : null;
        var from = Resolve(start, zone, endOfDay: false);
        var to = Resolve(end, zone, endOfDay: true);
        if (to <= from)
        {
            return ApiProblem.Validation("to", new(
                "'to' must be after 'from'.", "'to' debe ser posterior a 'from'.", "'to' muss nach 'from' liegen."));
        }

        // Longer by more than a day than allowed is too long in any zone (offsets differ by hours):
        // refused before anything is read. The exact rule needs the clinic's zone, which comes with
        // the schedule.
        var days = AppointmentRules.MaxAvailabilityDays;
        if (to - from > TimeSpan.FromDays(days + 1))
        {
            return WindowTooLong(days);
        }

        // A slot may start just before 'to' and end after it: load what could touch it.
        var reach = to.AddMinutes(request.DurationMinutes ?? AppointmentRules.MaxDurationMinutes);
        var (schedule, booked) = await AppointmentRules.LoadScheduleAndBookingsAsync(tenant, tenant.ClinicId, request.DoctorId!.Value,
            from, reach, ct);
        if (schedule is null)
        {
            return ApiProblem.NotFound();
        }

        // Counted on the clinic's calendar, so a window of whole local days is not refused for a DST hour.
        if (TimeZoneInfo.ConvertTime(to, schedule.Zone).DateTime - TimeZoneInfo.ConvertTime(from, schedule.Zone).DateTime > TimeSpan.FromDays(days))
        {
            return WindowTooLong(days);
        }

        var zoneId = schedule.Zone.Id;
        if (!schedule.Active)
        {
            return TypedResults.Ok(new Response([], zoneId, schedule.SlotMinutes));
        }

        var duration = TimeSpan.FromMinutes(request.DurationMinutes ?? schedule.SlotMinutes);
        var slots = AppointmentRules.FreeSlots(schedule, booked, duration, from, to, clock.GetUtcNow())
            .Select(s => new Slot(s.Start, s.End))
            .ToList();
        return TypedResults.Ok(new Response(slots, zoneId, schedule.SlotMinutes));
    }

    private static ApiProblem WindowTooLong(int days) => ApiProblem.Validation("to", new(
        $"The window can span {days} days at most.",
        $"El intervalo puede abarcar {days} días como máximo.",
        $"Der Zeitraum darf höchstens {days} Tage umfassen."));

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}$")]
    private static partial Regex DateFormat();

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|z|[+-]\d{2}:?\d{2})$")]
    private static partial Regex InstantFormat();

    // A '+' left unencoded in a query string arrives as a space: "…T09:00:00 01:00" means "+01:00".
    [GeneratedRegex(@" (\d{2}:?\d{2})$")]
    private static partial Regex SpacedOffset();

    /// <summary>A local date or an instant; an instant without an offset is refused as ambiguous.</summary>
    private static Moment? Parse(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        var text = SpacedOffset().Replace(value.Trim(), "+$1");
        if (DateFormat().IsMatch(text))
        {
            return DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date)
                ? new Moment(date, null)
                : null;
        }

        return InstantFormat().IsMatch(text)
               && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var instant)
            ? new Moment(null, instant)
            : null;
    }

    private readonly record struct Moment(DateOnly? Date, DateTimeOffset? Instant);

    // Npgsql writes timestamptz only from UTC values.
    private static DateTimeOffset Resolve(Moment value, TimeZoneInfo? zone, bool endOfDay) =>
        value.Instant?.ToUniversalTime() ?? AppointmentRules.StartOfLocalDay(value.Date!.Value.AddDays(endOfDay ? 1 : 0), zone!);

    public sealed record Slot(DateTimeOffset StartsAt, DateTimeOffset EndsAt);

    public sealed record Response(IReadOnlyList<Slot> Slots, string Timezone, int SlotMinutes);
}
