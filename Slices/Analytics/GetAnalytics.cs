using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Appointments;
using Dapper;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Analytics;

/// <summary>
/// GET /api/analytics: the practice dashboard for local dates from..to in the clinic's zone (default
/// the last 30 days): appointments by status, attendance and no-show rates, new patients, per-doctor
/// utilisation (booked ÷ scheduled minutes, scheduled = weekly hours minus time off, DST-correct) and
/// a daily series. One round trip of set-based queries over the clinic-day indexes.
/// </summary>
public sealed class GetAnalytics : ICarterModule
{
    public const int MaxDays = 366;

    /// <summary>Local dates of the clinic, <c>YYYY-MM-DD</c>.</summary>
    public sealed record Request(string? From, string? To);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.From).Must(d => d is null || ParseDate(d) is not null).WithMessage("Use a date, YYYY-MM-DD.");
            RuleFor(r => r.To).Must(d => d is null || ParseDate(d) is not null).WithMessage("Use a date, YYYY-MM-DD.");
            RuleFor(r => r.To).Must((r, to) => !(ParseDate(r.From) is { } f && ParseDate(to) is { } t) || f <= t)
                .WithMessage("to must not be before from.");
            RuleFor(r => r.To).Must((r, to) => !(ParseDate(r.From) is { } f && ParseDate(to) is { } t) || t.DayNumber - f.DayNumber < MaxDays)
                .WithMessage($"At most {MaxDays} days.");
        }
    }

    private static DateOnly? ParseDate(string? value) =>
        DateOnly.TryParseExact(value, "yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture,
            System.Globalization.DateTimeStyles.None, out var date) ? date : null;

    private const string ZoneSql = "select timezone from clinics where id = @ClinicId";

    // Local dates come from the instant converted in the clinic's zone, so a DST change moves no visit to another day.
    private const string Sql = """
        select (a.starts_at at time zone @Timezone)::date as day, a.status, count(*)::int as count
        from appointments a
        where a.clinic_id = @ClinicId and a.starts_at >= @Start and a.starts_at < @End
        group by 1, 2;

        select (p.created_at at time zone @Timezone)::date as day, count(*)::int as count
        from patients p
        where p.clinic_id = @ClinicId and p.created_at >= @Start and p.created_at < @End
        group by 1;

        select a.doctor_id, (sum(extract(epoch from a.ends_at - a.starts_at)) / 60)::bigint as minutes
        from appointments a
        where a.clinic_id = @ClinicId and a.starts_at >= @Start and a.starts_at < @End and a.status <> 'cancelled'
        group by 1;

        select d.id, d.full_name, d.active from doctors d where d.clinic_id = @ClinicId order by d.id;

        select h.doctor_id, h.weekday::int as weekday,
               (extract(hour from h.starts_at) * 60 + extract(minute from h.starts_at))::int as start_minute,
               (extract(hour from h.ends_at) * 60 + extract(minute from h.ends_at))::int as end_minute
        from doctor_weekly_hours h
        where h.clinic_id = @ClinicId;

        select t.doctor_id, t.starts_at, t.ends_at
        from doctor_time_off t
        where t.clinic_id = @ClinicId and t.ends_at > @Start and t.starts_at < @End;
        """;

    private sealed record StatusRow(DateOnly Day, string Status, int Count);

    private sealed record DayRow(DateOnly Day, int Count);

    private sealed record BookedRow(Guid DoctorId, long Minutes);

    private sealed record DoctorRow(Guid Id, string FullName, bool Active);

    private sealed record HoursRow(Guid DoctorId, int Weekday, int StartMinute, int EndMinute);

    private sealed record TimeOffRow(Guid DoctorId, DateTimeOffset StartsAt, DateTimeOffset EndsAt);

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/analytics")
            .MapGet("/", Handle)
            .RequireProPlan()
            .WithName(nameof(GetAnalytics))
            .WithSummary("Dashboard: appointments by status, attendance and no-show rates, new patients, doctor utilisation, daily series");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(
        [AsParameters] Request request, Tenant tenant, Validator validator, TimeProvider clock, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        var timezone = (await tenant.ExecuteScalarAsync<string>(ZoneSql, new { tenant.ClinicId }, ct))!;
        var zone = TimeZoneInfo.FindSystemTimeZoneById(timezone);
        var to = ParseDate(request.To) ?? AppointmentRules.LocalDate(clock.GetUtcNow(), zone);
        var from = ParseDate(request.From) ?? to.AddDays(-29);
        if (to.DayNumber - from.DayNumber >= MaxDays)
        {
            return ApiProblem.Validation("from", new($"At most {MaxDays} days.", $"Como máximo {MaxDays} días.", $"Höchstens {MaxDays} Tage."));
        }

        var start = AppointmentRules.StartOfLocalDay(from, zone);
        var end = AppointmentRules.StartOfLocalDay(to.AddDays(1), zone);
        await using var results = await tenant.QueryMultipleAsync(Sql,
            new { tenant.ClinicId, Timezone = timezone, Start = start, End = end }, ct);
        var statuses = (await results.ReadAsync<StatusRow>()).ToList();
        var newPatients = (await results.ReadAsync<DayRow>()).ToDictionary(r => r.Day, r => r.Count);
        var booked = (await results.ReadAsync<BookedRow>()).ToDictionary(r => r.DoctorId, r => r.Minutes);
        var doctors = (await results.ReadAsync<DoctorRow>()).ToList();
        var hours = (await results.ReadAsync<HoursRow>()).ToLookup(r => r.DoctorId);
        var timeOff = (await results.ReadAsync<TimeOffRow>()).ToLookup(r => r.DoctorId);

        var byStatus = AppointmentRules.Statuses.ToDictionary(s => s, s => statuses.Where(r => r.Status == s).Sum(r => r.Count));
        var attended = byStatus[AppointmentRules.CheckedIn] + byStatus[AppointmentRules.Completed];
        var decided = attended + byStatus[AppointmentRules.NoShow];

        var utilisation = doctors
            .Where(d => d.Active || booked.ContainsKey(d.Id))
            .Select(d =>
            {
                var scheduled = ScheduledMinutes(
                    hours[d.Id].Select(h => new AppointmentRules.WeeklyRange(h.Weekday, h.StartMinute, h.EndMinute)).ToList(),
                    timeOff[d.Id].Select(t => new AppointmentRules.Span(t.StartsAt, t.EndsAt)).ToList(), zone, start, end);
                var minutes = booked.GetValueOrDefault(d.Id);
                return new DoctorUtilisation(d.Id, d.FullName, minutes, scheduled, scheduled == 0 ? null : Math.Round((double)minutes / scheduled, 4));
            })
            .ToList();

        var days = new List<Day>();
        for (var day = from; day <= to; day = day.AddDays(1))
        {
            var rows = statuses.Where(r => r.Day == day).ToList();
            int Of(string status) => rows.Where(r => r.Status == status).Sum(r => r.Count);
            days.Add(new Day(day, rows.Sum(r => r.Count), Of(AppointmentRules.Completed), Of(AppointmentRules.NoShow),
                Of(AppointmentRules.Cancelled), newPatients.GetValueOrDefault(day)));
        }

        return TypedResults.Ok(new Response(from, to, timezone, byStatus.Values.Sum(), byStatus,
            Rate(attended, decided), Rate(byStatus[AppointmentRules.NoShow], decided), newPatients.Values.Sum(), utilisation, days));
    }

    private static double? Rate(int part, int whole) => whole == 0 ? null : Math.Round((double)part / whole, 4);

    /// <summary>Working minutes in [start, end): weekly hours converted date by date in the zone, minus time off.</summary>
    private static long ScheduledMinutes(IReadOnlyList<AppointmentRules.WeeklyRange> weekly, IReadOnlyList<AppointmentRules.Span> timeOff,
        TimeZoneInfo zone, DateTimeOffset start, DateTimeOffset end)
    {
        var total = TimeSpan.Zero;
        foreach (var span in AppointmentRules.WorkingSpans(weekly, zone, start, end))
        {
            var s = span.Start < start ? start : span.Start;
            var e = span.End > end ? end : span.End;
            if (s >= e)
            {
                continue;
            }

            total += e - s;
            // Time off may overlap itself; merge what falls inside this span before subtracting it.
            var cursor = s;
            foreach (var off in timeOff.Where(t => t.Overlaps(s, e)).OrderBy(t => t.Start))
            {
                var os = off.Start < cursor ? cursor : off.Start;
                var oe = off.End > e ? e : off.End;
                if (os < oe)
                {
                    total -= oe - os;
                    cursor = oe;
                }
            }
        }

        return (long)total.TotalMinutes;
    }

    /// <summary>
    /// <c>attendanceRate</c> = (checked_in + completed) ÷ (checked_in + completed + no_show), <c>noShowRate</c> =
    /// no_show ÷ the same; null when nothing was decided yet. Booked minutes count every appointment but cancelled ones.
    /// </summary>
    public sealed record Response(DateOnly From, DateOnly To, string Timezone, int Appointments, IReadOnlyDictionary<string, int> ByStatus,
        double? AttendanceRate, double? NoShowRate, int NewPatients, IReadOnlyList<DoctorUtilisation> Doctors, IReadOnlyList<Day> Daily);

    public sealed record DoctorUtilisation(Guid DoctorId, string FullName, long BookedMinutes, long ScheduledMinutes, double? Utilisation);

    public sealed record Day(DateOnly Date, int Appointments, int Completed, int NoShows, int Cancelled, int NewPatients);
}
