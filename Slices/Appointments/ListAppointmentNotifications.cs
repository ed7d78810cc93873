using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Appointments;

/// <summary>
/// GET /api/appointments/{id}/notifications: the WhatsApp messages queued or sent about an
/// appointment (its reminders and the bot's answers to them), oldest first, with the outbox status
/// (<c>pending</c>, <c>sending</c>, <c>sent</c>, <c>failed</c>, <c>cancelled</c>), Meta's delivery
/// status and their times. Texts and numbers stay out of the answer.
/// </summary>
public sealed class ListAppointmentNotifications : ICarterModule
{
    private const string AppointmentSql = "select 1 from appointments where clinic_id = @ClinicId and id = @Id";

    private const string Sql = """
        select id, kind, status, delivery_status, payload -> 'template' ->> 'name' as template, due_at, attempts, sent_at,
               delivered_at, read_at, created_at
        from outbox_messages
        where clinic_id = @ClinicId and appointment_id = @Id and channel = 'whatsapp'
          and (@After::uuid is null or id > @After::uuid)
        order by id
        limit @Take
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/appointments")
            .MapGet("/{id:guid}/notifications", Handle)
            .WithName(nameof(ListAppointmentNotifications))
            .WithSummary("The WhatsApp reminders and replies of an appointment, with status and times");

    private static async Task<Results<Ok<Page<Response>>, ApiProblem>> Handle(
        Guid id, int? limit, string? cursor, Tenant tenant, CancellationToken ct)
    {
        if (!Paging.TryReadGuid(limit, cursor, out var take, out var after, out var problem))
        {
            return problem!;
        }

        if (await tenant.QuerySingleOrDefaultAsync<int?>(AppointmentSql, new { tenant.ClinicId, Id = id }, ct) is null)
        {
            return ApiProblem.NotFound();
        }

        var rows = await tenant.QueryAsync<Response>(Sql, new { tenant.ClinicId, Id = id, After = after, Take = take + 1 }, ct);
        return TypedResults.Ok(Paging.ToPage(rows, take, r => r.Id));
    }

    /// <summary><c>dueAt</c>: when a reminder is (or was) due; <c>template</c>: the Meta template it goes out with, if any.</summary>
    public sealed record Response(Guid Id, string? Kind, string Status, string? DeliveryStatus, string? Template, DateTimeOffset? DueAt,
        int Attempts, DateTimeOffset? SentAt, DateTimeOffset? DeliveredAt, DateTimeOffset? ReadAt, DateTimeOffset CreatedAt);
}
