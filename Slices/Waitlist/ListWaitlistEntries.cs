using Carter;
using ClinicFlow.Infrastructure;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Waitlist;

/// <summary>
/// GET /api/waitlist: the clinic's waiting list in waiting order (oldest first), filtered by doctor
/// and status, keyset paged by id; each entry carries its latest offer.
/// </summary>
public sealed class ListWaitlistEntries : ICarterModule
{
    public sealed record Request(Guid? DoctorId, string? Status, int? Limit, string? Cursor);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator() =>
            RuleFor(r => r.Status).Must(s => s is null || WaitlistMachine.EntryStatuses.Contains(s))
                .WithMessage(_ => new Text(
                    $"status must be one of {string.Join(", ", WaitlistMachine.EntryStatuses)}.",
                    $"status debe ser uno de {string.Join(", ", WaitlistMachine.EntryStatuses)}.",
                    $"status muss einer von {string.Join(", ", WaitlistMachine.EntryStatuses)} sein.").Current);
    }

    private const string Sql = """
        select e.id, e.patient_id, e.doctor_id, e.window_from, e.window_to, e.duration_minutes, e.note, e.status, e.created_at,
               e.updated_at, p.full_name as patient_name, d.full_name as doctor_name,
               o.id as offer_id, o.status as offer_status, o.starts_at as offer_starts_at, o.ends_at as offer_ends_at,
               o.expires_at as offer_expires_at, o.appointment_id as offer_appointment_id
        from waitlist_entries e
        join patients p on p.clinic_id = e.clinic_id and p.id = e.patient_id
        left join doctors d on d.clinic_id = e.clinic_id and d.id = e.doctor_id
        left join lateral (
            select x.id, x.status, x.starts_at, x.ends_at, x.expires_at, x.appointment_id
            from waitlist_offers x
            where x.clinic_id = e.clinic_id and x.entry_id = e.id
            order by x.id desc
            limit 1
        ) o on true
        where e.clinic_id = @ClinicId
          and (@DoctorId::uuid is null or e.doctor_id = @DoctorId)
          and (@Status::text is null or e.status = @Status)
          and (@After::uuid is null or e.id > @After)
        order by e.id
        limit @Take
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/waitlist")
            .MapGet("/", Handle)
            .WithName(nameof(ListWaitlistEntries))
            .WithSummary("The waiting list in waiting order (filters doctorId, status)");

    private static async Task<Results<Ok<Page<Response>>, ApiProblem>> Handle(
        [AsParameters] Request request, Tenant tenant, Validator validator, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        if (!Paging.TryReadGuid(request.Limit, request.Cursor, out var take, out var after, out var problem))
        {
            return problem!;
        }

        // Optional filters: plan this call for the filters it actually has.
        tenant.PlanPerCall();
        var rows = await tenant.QueryAsync<Row>(Sql,
            new { tenant.ClinicId, request.DoctorId, request.Status, After = after, Take = take + 1 }, ct);
        return TypedResults.Ok(Paging.ToPage(rows.Select(r => r.ToResponse()), take, r => r.Id));
    }

    private sealed record Row(Guid Id, Guid PatientId, Guid? DoctorId, DateTimeOffset WindowFrom, DateTimeOffset WindowTo, int DurationMinutes,
        string? Note, string Status, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, string PatientName, string? DoctorName,
        Guid? OfferId, string? OfferStatus, DateTimeOffset? OfferStartsAt, DateTimeOffset? OfferEndsAt, DateTimeOffset? OfferExpiresAt,
        Guid? OfferAppointmentId)
    {
        public Response ToResponse() => new(Id, PatientId, DoctorId, WindowFrom, WindowTo, DurationMinutes, Note, Status, CreatedAt, UpdatedAt,
            new Summary(PatientId, PatientName), DoctorId is { } doctorId ? new Summary(doctorId, DoctorName ?? "") : null,
            OfferId is { } offerId
                ? new Offer(offerId, OfferStatus!, OfferStartsAt!.Value, OfferEndsAt!.Value, OfferExpiresAt!.Value, OfferAppointmentId)
                : null);
    }

    public sealed record Summary(Guid Id, string FullName);

    /// <summary>
    /// The entry's latest offer: <c>offered</c> while open, then <c>accepted</c> (with the appointment
    /// booked), <c>taken</c>, <c>declined</c>, <c>expired</c> or <c>cancelled</c>.
    /// </summary>
    public sealed record Offer(Guid Id, string Status, DateTimeOffset StartsAt, DateTimeOffset EndsAt, DateTimeOffset ExpiresAt,
        Guid? AppointmentId);

    public sealed record Response(Guid Id, Guid PatientId, Guid? DoctorId, DateTimeOffset From, DateTimeOffset To, int DurationMinutes,
        string? Note, string Status, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, Summary Patient, Summary? Doctor, Offer? Offer);
}
