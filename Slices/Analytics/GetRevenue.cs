using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Appointments;
using Dapper;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Analytics;

/// <summary>
/// GET /api/analytics/revenue: an admin's revenue view by month of the clinic's zone (default the
/// last 12 months): value of treatment plans accepted, payments received, installments due and what
/// of them is still open; totals add what is outstanding and overdue today.
/// </summary>
public sealed class GetRevenue : ICarterModule
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

    private const string ZoneSql = "select timezone, currency from clinics where id = @ClinicId";

    // Plans count in the month they were accepted unless cancelled since; erased patients' plans are
    // retained records and count too (no personal data leaves this query).
    private const string Sql = """
        select to_char(s.accepted_at at time zone @Timezone, 'YYYY-MM') as month, sum(s.total_cents)::bigint as cents, count(*)::int as count
        from treatment_plan_summaries s
        where s.clinic_id = @ClinicId and s.accepted_at >= @Start and s.accepted_at < @End and s.status <> 'cancelled'
        group by 1;

        select to_char(x.paid_at at time zone @Timezone, 'YYYY-MM') as month, sum(x.amount_cents)::bigint as cents, count(*)::int as count
        from payments x
        where x.clinic_id = @ClinicId and x.paid_at >= @Start and x.paid_at < @End
        group by 1;

        select to_char(i.due_date, 'YYYY-MM') as month, sum(i.amount_cents)::bigint as due_cents,
               sum(i.amount_cents - i.paid_cents)::bigint as open_cents
        from payment_installments i
        where i.clinic_id = @ClinicId and i.due_date >= @From and i.due_date <= @To
        group by 1;

        select coalesce(sum(s.total_cents - coalesce(pp.paid_cents, 0)), 0)::bigint as outstanding_cents,
               coalesce((select sum(i.amount_cents - i.paid_cents) from payment_installments i
                         where i.clinic_id = @ClinicId and i.due_date < @Today), 0)::bigint as overdue_cents
        from treatment_plan_summaries s
        left join payment_plans pp on pp.clinic_id = s.clinic_id and pp.id = s.payment_plan_id
        where s.clinic_id = @ClinicId and s.status in ('accepted', 'in_progress', 'completed');
        """;

    private sealed record Clinic(string Timezone, string Currency);

    private sealed record MonthRow(string Month, long Cents, int Count);

    private sealed record DueRow(string Month, long DueCents, long OpenCents);

    private sealed record NowRow(long OutstandingCents, long OverdueCents);

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/analytics")
            .MapGet("/revenue", Handle)
            .RequireAdmin()
            .RequireProPlan()
            .WithName(nameof(GetRevenue))
            .WithSummary("Revenue by month: accepted treatment-plan value, payments received, installments due and outstanding");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(
        [AsParameters] Request request, Tenant tenant, Validator validator, TimeProvider clock, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        var clinic = await tenant.QuerySingleAsync<Clinic>(ZoneSql, new { tenant.ClinicId }, ct);
        var zone = TimeZoneInfo.FindSystemTimeZoneById(clinic.Timezone);
        var today = AppointmentRules.LocalDate(clock.GetUtcNow(), zone);
        var to = ParseDate(request.To) ?? today;
        var from = ParseDate(request.From) ?? new DateOnly(to.Year, to.Month, 1).AddMonths(-11);
        if (to.DayNumber - from.DayNumber >= MaxDays)
        {
            return ApiProblem.Validation("from", new($"At most {MaxDays} days.", $"Como máximo {MaxDays} días.", $"Höchstens {MaxDays} Tage."));
        }

        await using var results = await tenant.QueryMultipleAsync(Sql, new
        {
            tenant.ClinicId,
            clinic.Timezone,
            Start = AppointmentRules.StartOfLocalDay(from, zone),
            End = AppointmentRules.StartOfLocalDay(to.AddDays(1), zone),
            From = from,
            To = to,
            Today = today,
        }, ct);
        var accepted = (await results.ReadAsync<MonthRow>()).ToDictionary(r => r.Month);
        var received = (await results.ReadAsync<MonthRow>()).ToDictionary(r => r.Month);
        var due = (await results.ReadAsync<DueRow>()).ToDictionary(r => r.Month);
        var now = await results.ReadSingleAsync<NowRow>();

        var months = new List<Month>();
        for (var month = new DateOnly(from.Year, from.Month, 1); month <= to; month = month.AddMonths(1))
        {
            var key = month.ToString("yyyy-MM", System.Globalization.CultureInfo.InvariantCulture);
            months.Add(new Month(key,
                accepted.GetValueOrDefault(key)?.Cents ?? 0, accepted.GetValueOrDefault(key)?.Count ?? 0,
                received.GetValueOrDefault(key)?.Cents ?? 0, received.GetValueOrDefault(key)?.Count ?? 0,
                due.GetValueOrDefault(key)?.DueCents ?? 0, due.GetValueOrDefault(key)?.OpenCents ?? 0));
        }

        return TypedResults.Ok(new Response(from, to, clinic.Timezone, clinic.Currency.Trim(),
            months.Sum(m => m.AcceptedCents), months.Sum(m => m.ReceivedCents), now.OutstandingCents, now.OverdueCents, months));
    }

    /// <summary>
    /// <c>acceptedCents</c> and <c>receivedCents</c> sum the window; <c>outstandingCents</c> (accepted plans'
    /// value not yet received) and <c>overdueCents</c> (installments past their date, unpaid) are as of today.
    /// </summary>
    public sealed record Response(DateOnly From, DateOnly To, string Timezone, string Currency, long AcceptedCents, long ReceivedCents,
        long OutstandingCents, long OverdueCents, IReadOnlyList<Month> Months);

    public sealed record Month(string Key, long AcceptedCents, int AcceptedPlans, long ReceivedCents, int Payments, long DueCents,
        long DueOpenCents);
}
