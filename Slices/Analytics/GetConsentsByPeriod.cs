using Carter;
using ClinicFlow.Infrastructure;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Analytics;

/// <summary>
/// GET /api/analytics/by-period: consent forms per day, week (ISO, from Monday) or month of the
/// clinic's zone, every bucket of the window listed (empty ones as zeros). A form counts in the
/// bucket it was sent in, whenever it was submitted. All plans.
/// </summary>
public sealed class GetConsentsByPeriod : ICarterModule
{
    public sealed record Request(string? Period, string? From, string? To);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator() =>
            RuleFor(r => r.Period).Must(p => p is "day" or "week" or "month").When(r => r.Period is not null)
                .WithMessage("Use day, week or month.");
    }

    private const string Sql = $"""
        with counts as (
            select date_trunc(@Period, f.created_at at time zone @Timezone) as bucket, {ConsentAnalyticsRules.CountsSql}
            from consent_forms f
            where f.clinic_id = @ClinicId and f.created_at >= @FromInstant and f.created_at < @ToInstant
            group by 1
        )
        select b::date as start, coalesce(c.sent, 0) as sent, coalesce(c.opened, 0) as opened,
               coalesce(c.submitted, 0) as submitted, coalesce(c.pending, 0) as pending,
               coalesce(c.revoked, 0) as revoked, coalesce(c.expired, 0) as expired, c.median_seconds_to_submit
        from generate_series(date_trunc(@Period, @From::timestamp), @To::timestamp, ('1 ' || @Period)::interval) b
        left join counts c on c.bucket = b
        order by b
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/analytics")
            .MapGet("/by-period", Handle)
            .RequireDoctorOrAdmin()
            .WithName(nameof(GetConsentsByPeriod))
            .WithSummary("Consent form counts per day, week or month in the clinic's time zone");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(
        [AsParameters] Request request, Tenant tenant, Validator validator, TimeProvider clock, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        var (window, problem) = await ConsentAnalyticsRules.ReadWindowAsync(tenant, request.From, request.To, clock, ct);
        if (window is null)
        {
            return problem!;
        }

        var period = request.Period ?? "day";
        var buckets = await tenant.QueryAsync<Bucket>(Sql, new
        {
            tenant.ClinicId,
            Period = period,
            window.Timezone,
            window.FromInstant,
            window.ToInstant,
            window.From,
            window.To,
        }, ct);
        return TypedResults.Ok(new Response(period, window.From, window.To, window.Timezone, buckets.ToList()));
    }

    public sealed record Response(string Period, DateOnly From, DateOnly To, string Timezone, IReadOnlyList<Bucket> Buckets);

    public sealed record Bucket(DateOnly Start, int Sent, int Opened, int Submitted, int Pending, int Revoked, int Expired,
        double? MedianSecondsToSubmit);
}
