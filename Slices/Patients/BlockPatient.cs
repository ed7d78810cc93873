using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Appointments;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Patients;

/// <summary>
/// POST /api/patients/{id}/block: an admin blocks a patient (no bookings, no bot messages) with a
/// reason. Blocking a blocked patient replaces the reason and keeps when the block began.
/// </summary>
public sealed class BlockPatient : ICarterModule
{
    public sealed record Request(string? Reason);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.Reason).NotEmpty().MaximumLength(500);
        }
    }

    private const string Sql = """
        update patients
           set blocked = true, blocked_reason = @Reason, blocked_at = coalesce(blocked_at, now()), updated_at = now()
         where clinic_id = @ClinicId and id = @Id and erased_at is null
        returning id, full_name, phone, email::text as email, birth_date, gender, document_id, notes, blocked,
                  blocked_reason, lookup_hash, encrypted_data, created_at
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/patients")
            .MapPost("/{id:guid}/block", Handle)
            .RequireAdmin()
            .WithName(nameof(BlockPatient))
            .WithSummary("Block a patient with a reason");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(
        Guid id, Request request, Tenant tenant, Validator validator, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        var patient = await tenant.QuerySingleOrDefaultAsync<Response>(Sql, new { tenant.ClinicId, Id = id, Reason = request.Reason!.Trim() }, ct);
        if (patient is null)
        {
            return ApiProblem.NotFound();
        }

        await AppointmentReminders.DropForPatientAsync(tenant, tenant.ClinicId, id, "patient blocked", ct);

        // The reason can describe the patient: the audit entry names the change, not its text.
        await tenant.AuditAsync("patient.block", "patient", id, new { blocked = true }, ct);
        return TypedResults.Ok(patient);
    }

    public sealed record Response(Guid Id, string FullName, string? Phone, string? Email, DateOnly? BirthDate, string? Gender,
        string? DocumentId, string? Notes, bool Blocked, string? BlockedReason, string? LookupHash, string? EncryptedData,
        DateTimeOffset CreatedAt);
}
