using System.Globalization;
using System.Text.RegularExpressions;
using Carter;
using ClinicFlow.Infrastructure;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Doctors;

/// <summary>
/// PUT /api/doctors/{id}/schedule: an admin replaces the doctor's whole week of hours (local to the
/// clinic's zone) and default slot length in one transaction; an empty week clears the hours.
/// </summary>
public sealed partial class ReplaceSchedule : ICarterModule
{
    public const int MaxRangesPerDay = 12;

    public const int DefaultSlotMinutes = 30;

    private static readonly string[] AuditedFields = ["slotMinutes", "weekly"];

    public sealed record WeeklyRange(int? Weekday, string? Start, string? End);

    public sealed record Request(int? SlotMinutes, IReadOnlyList<WeeklyRange?>? Weekly);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.SlotMinutes).InclusiveBetween(5, 240);
            RuleFor(r => r.Weekly).NotNull().Custom(CheckWeek);
        }

        // Cross-item rules name the offending item (weekly[2].start) so a client can point at it.
        private static void CheckWeek(IReadOnlyList<WeeklyRange?>? weekly, ValidationContext<Request> context)
        {
            if (weekly is null)
            {
                return;
            }

            if (weekly.Count > 7 * MaxRangesPerDay)
            {
                context.AddFailure("weekly", $"A week holds at most {7 * MaxRangesPerDay} ranges.");
                return;
            }

            var valid = new List<(int Index, int Weekday, int Start, int End)>();
            for (var i = 0; i < weekly.Count; i++)
            {
                var item = weekly[i];
                if (item is null)
                {
                    context.AddFailure($"weekly[{i}]", "Give weekday, start and end.");
                    continue;
                }

                var ok = true;
                if (item.Weekday is not (>= 1 and <= 7))
                {
                    context.AddFailure($"weekly[{i}].weekday", "Use an ISO weekday from 1 (Monday) to 7 (Sunday).");
                    ok = false;
                }

                var start = MinuteOf(item.Start);
                if (start is null)
                {
                    context.AddFailure($"weekly[{i}].start", "Use a time of day as HH:mm (00:00 to 23:59).");
                    ok = false;
                }

                var end = MinuteOf(item.End);
                if (end is null)
                {
                    context.AddFailure($"weekly[{i}].end", "Use a time of day as HH:mm (00:00 to 23:59).");
                    ok = false;
                }
                else if (start is not null && end <= start)
                {
                    context.AddFailure($"weekly[{i}].end", "The end must be after the start.");
                    ok = false;
                }

                if (ok)
                {
                    valid.Add((i, item.Weekday!.Value, start!.Value, end!.Value));
                }
            }

            foreach (var day in valid.GroupBy(r => r.Weekday))
            {
                var ranges = day.OrderBy(r => r.Start).ThenBy(r => r.Index).ToList();
                for (var k = 1; k < ranges.Count; k++)
                {
                    // Touching ranges (09:00-13:00, 13:00-17:00) are fine: the hours are half-open.
                    var overlapped = ranges.Take(k).FirstOrDefault(r => r.End > ranges[k].Start);
                    if (overlapped != default)
                    {
                        context.AddFailure($"weekly[{ranges[k].Index}].start", $"This range overlaps weekly[{overlapped.Index}] on the same weekday.");
                    }
                }

                foreach (var extra in day.Skip(MaxRangesPerDay))
                {
                    context.AddFailure($"weekly[{extra.Index}].weekday", $"A day holds at most {MaxRangesPerDay} ranges.");
                }
            }
        }
    }

    [GeneratedRegex("^(?<h>[01][0-9]|2[0-3]):(?<m>[0-5][0-9])$")]
    private static partial Regex TimeOfDay();

    private static int? MinuteOf(string? value)
    {
        var match = value is null ? null : TimeOfDay().Match(value);
        return match is { Success: true }
            ? (int.Parse(match.Groups["h"].ValueSpan, CultureInfo.InvariantCulture) * 60)
                + int.Parse(match.Groups["m"].ValueSpan, CultureInfo.InvariantCulture)
            : null;
    }

    // The doctor row lock serialises concurrent replacements of one week.
    private const string TargetSql = """
        select id
        from doctors
        where clinic_id = @ClinicId and id = @Id
        for update
        """;

    private const string Sql = """
        delete from doctor_weekly_hours
        where clinic_id = @ClinicId and doctor_id = @Id;

        insert into doctor_weekly_hours (clinic_id, doctor_id, weekday, starts_at, ends_at)
        select @ClinicId, @Id, w.weekday, w.starts_at, w.ends_at
        from unnest(@Weekdays::smallint[], @Starts::time[], @Ends::time[]) as w (weekday, starts_at, ends_at);

        update doctors
           set slot_minutes = @SlotMinutes, updated_at = now()
         where clinic_id = @ClinicId and id = @Id;
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/doctors")
            .MapPut("/{id:guid}/schedule", Handle)
            .RequireAdmin()
            .WithName(nameof(ReplaceSchedule))
            .WithSummary("Replace a doctor's weekly hours and default slot length");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(
        Guid id, Request request, Tenant tenant, Validator validator, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        if (await tenant.QuerySingleOrDefaultAsync<Guid?>(TargetSql, new { tenant.ClinicId, Id = id }, ct) is null)
        {
            return ApiProblem.NotFound();
        }

        var weekly = request.Weekly!
            .Select(r => new HoursRange(r!.Weekday!.Value, r.Start!, r.End!))
            .OrderBy(r => r.Weekday)
            .ThenBy(r => r.Start, StringComparer.Ordinal)
            .ToList();
        var slotMinutes = request.SlotMinutes ?? DefaultSlotMinutes;
        await tenant.ExecuteAsync(Sql, new
        {
            tenant.ClinicId,
            Id = id,
            Weekdays = weekly.Select(r => r.Weekday).ToArray(),
            Starts = weekly.Select(r => r.Start).ToArray(),
            Ends = weekly.Select(r => r.End).ToArray(),
            SlotMinutes = slotMinutes,
        }, ct);

        await tenant.AuditAsync("doctor.schedule_replace", "doctor", id, new { fields = AuditedFields, ranges = weekly.Count }, ct);
        return TypedResults.Ok(new Response(slotMinutes, weekly));
    }

    public sealed record HoursRange(int Weekday, string Start, string End);

    public sealed record Response(int SlotMinutes, IReadOnlyList<HoursRange> Weekly);
}
