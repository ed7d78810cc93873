using System.Globalization;
using Carter;
using ClinicFlow.Infrastructure;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Doctors;

/// <summary>
/// GET /api/doctors/{id}/time-off: a doctor's absences ordered by start, keyset paged. Without
/// from/to only those not yet ended; with them, those overlapping [from, to) (either bound optional).
/// </summary>
public sealed class ListTimeOff : ICarterModule
{
    private const string Sql = """
        select count(*)::int
        from doctors
        where clinic_id = @ClinicId and id = @DoctorId;

        select id, doctor_id, starts_at, ends_at, reason, created_at
        from doctor_time_off
        where clinic_id = @ClinicId and doctor_id = @DoctorId
          and (@From::timestamptz is null or ends_at > @From::timestamptz)
          and (@To::timestamptz is null or starts_at < @To::timestamptz)
          and (@AfterStart::timestamptz is null or (starts_at, id) > (@AfterStart::timestamptz, @AfterId::uuid))
        order by starts_at, id
        limit @Take;
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/doctors")
            .MapGet("/{id:guid}/time-off", Handle)
            .WithName(nameof(ListTimeOff))
            .WithSummary("A doctor's time off (not yet ended unless from/to say otherwise)");

    private static async Task<Results<Ok<Page<Response>>, ApiProblem>> Handle(
        Guid id, DateTimeOffset? from, DateTimeOffset? to, int? limit, string? cursor, Tenant tenant, CancellationToken ct)
    {
        if (!Paging.TryRead(limit, cursor, out var take, out var after, out var problem))
        {
            return problem!;
        }

        (DateTimeOffset Start, Guid Id)? position = null;
        if (after is not null)
        {
            position = ReadCursor(after);
            if (position is null)
            {
                return ApiProblem.Validation("cursor", new("The cursor is not valid.", "El cursor no es válido.", "Der Cursor ist ungültig."));
            }
        }

        if (from > to)
        {
            return ApiProblem.Validation("from", new(
                "from must not be after to.", "from no puede ser posterior a to.", "from darf nicht nach to liegen."));
        }

        tenant.PlanPerCall();
        await using var results = await tenant.QueryMultipleAsync(Sql, new
        {
            tenant.ClinicId,
            DoctorId = id,
            // Npgsql writes timestamptz only from UTC offsets.
            From = from is null && to is null ? DateTimeOffset.UtcNow : from?.ToUniversalTime(),
            To = to?.ToUniversalTime(),
            AfterStart = position?.Start,
            AfterId = position?.Id,
            Take = take + 1,
        }, ct);
        if (await results.ReadSingleAsync<int>() == 0)
        {
            return ApiProblem.NotFound();
        }

        var rows = await results.ReadAsync<Response>();
        return TypedResults.Ok(Paging.ToPage(rows, take, r => string.Create(CultureInfo.InvariantCulture, $"{r.StartsAt.UtcTicks}_{r.Id}")));
    }

    private static (DateTimeOffset Start, Guid Id)? ReadCursor(string key)
    {
        var parts = key.Split('_');
        return parts.Length == 2
            && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks)
            && ticks <= DateTimeOffset.MaxValue.UtcTicks
            && Guid.TryParse(parts[1], out var id)
                ? (new DateTimeOffset(ticks, TimeSpan.Zero), id)
                : null;
    }

    public sealed record Response(Guid Id, Guid DoctorId, DateTimeOffset StartsAt, DateTimeOffset EndsAt, string? Reason,
        DateTimeOffset CreatedAt);
}
