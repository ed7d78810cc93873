using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Appointments;

/// <summary>GET /api/appointments/{id}: one appointment of the caller's clinic with its doctor and patient summary.</summary>
public sealed class GetAppointment : ICarterModule
{
    private const string Sql = """
        select a.id, a.doctor_id, a.patient_id, a.starts_at, a.ends_at, a.status, a.reason, a.notes, a.outside_schedule,
               a.created_at, a.updated_at, d.full_name as doctor_name, p.full_name as patient_name
        from appointments a
        join doctors d on d.clinic_id = a.clinic_id and d.id = a.doctor_id
        join patients p on p.clinic_id = a.clinic_id and p.id = a.patient_id
        where a.clinic_id = @ClinicId and a.id = @Id
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/appointments")
            .MapGet("/{id:guid}", Handle)
            .WithName(nameof(GetAppointment))
            .WithSummary("One appointment with its doctor and patient");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(Guid id, Tenant tenant, CancellationToken ct)
    {
        var row = await tenant.QuerySingleOrDefaultAsync<Row>(Sql, new { tenant.ClinicId, Id = id }, ct);
        return row is null ? ApiProblem.NotFound() : TypedResults.Ok(row.ToResponse());
    }

    private sealed record Row(Guid Id, Guid DoctorId, Guid PatientId, DateTimeOffset StartsAt, DateTimeOffset EndsAt, string Status,
        string? Reason, string? Notes, bool OutsideSchedule, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, string DoctorName,
        string PatientName)
    {
        public Response ToResponse() => new(Id, DoctorId, PatientId, StartsAt, EndsAt, Status, Reason, Notes, OutsideSchedule,
            CreatedAt, UpdatedAt, new Summary(DoctorId, DoctorName), new Summary(PatientId, PatientName));
    }

    public sealed record Summary(Guid Id, string FullName);

    public sealed record Response(Guid Id, Guid DoctorId, Guid PatientId, DateTimeOffset StartsAt, DateTimeOffset EndsAt, string Status,
        string? Reason, string? Notes, bool OutsideSchedule, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, Summary Doctor,
        Summary Patient);
}
