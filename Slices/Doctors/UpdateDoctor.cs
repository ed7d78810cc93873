using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Clinics;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace ClinicFlow.Slices.Doctors;

/// <summary>
/// PATCH /api/doctors/{id}: an admin changes, deactivates or reactivates a doctor and links or
/// unlinks (<c>unlinkUser: true</c>) a doctor user; null keeps a field, "" clears an optional one.
/// Deactivating keeps the doctor's appointments; reactivating counts against the plan's doctor limit.
/// </summary>
public sealed class UpdateDoctor : ICarterModule
{
    public sealed record Request(string? FullName, string? Specialty, string? Email, string? Phone, string? Color,
        Guid? UserId, bool? UnlinkUser, bool? Active);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.FullName).NotEmpty().MaximumLength(200).When(r => r.FullName is not null);
            RuleFor(r => r.Specialty).MaximumLength(200);
            RuleFor(r => r.Email).MaximumLength(254).EmailAddress().When(r => !string.IsNullOrWhiteSpace(r.Email));
            RuleFor(r => r.Phone).MaximumLength(40);
            RuleFor(r => r.Color).Color();
            RuleFor(r => r.UserId).NotEqual(Guid.Empty);
            RuleFor(r => r.UnlinkUser).Must(u => u != true).When(r => r.UserId is not null)
                .WithMessage("Give either userId or unlinkUser, not both.");
        }
    }

    private const string TargetSql = """
        select id, full_name, specialty, email::text as email, phone, user_id, active, color, created_at
        from doctors
        where clinic_id = @ClinicId and id = @Id
        for update
        """;

    private const string UpdateSql = """
        update doctors
           set full_name = @FullName, specialty = @Specialty, email = @Email, phone = @Phone, user_id = @UserId,
               active = @Active, color = @Color, updated_at = now()
         where clinic_id = @ClinicId and id = @Id
        returning id, full_name, specialty, email::text as email, phone, user_id, active, color, created_at
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/doctors")
            .MapPatch("/{id:guid}", Handle)
            .RequireAdmin()
            .WithName(nameof(UpdateDoctor))
            .WithSummary("Change, deactivate or reactivate a doctor; link or unlink a doctor user")
            .ProducesErrors(StatusCodes.Status409Conflict);

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(
        Guid id, Request request, Tenant tenant, Validator validator, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        var current = await tenant.QuerySingleOrDefaultAsync<Response>(TargetSql, new { tenant.ClinicId, Id = id }, ct);
        if (current is null)
        {
            return ApiProblem.NotFound();
        }

        var phone = current.Phone;
        if (request.Phone is not null)
        {
            (phone, var problem) = await ClinicRules.NormalizePhoneAsync(tenant, request.Phone.TrimToNull(), ct);
            if (problem is not null)
            {
                return problem;
            }
        }

        var userId = request.UnlinkUser == true ? null : request.UserId ?? current.UserId;
        if (userId is { } linked && linked != current.UserId && await DoctorRules.CheckLinkableUserAsync(tenant, linked, ct) is { } refused)
        {
            return refused;
        }

        var next = current with
        {
            FullName = request.FullName?.Trim() ?? current.FullName,
            Specialty = Next(request.Specialty, current.Specialty),
            Email = Next(request.Email, current.Email),
            Phone = phone,
            UserId = userId,
            Active = request.Active ?? current.Active,
            Color = request.Color is null ? current.Color : DoctorRules.CleanColor(request.Color),
        };

        if (next.Active && !current.Active && await DoctorRules.CheckRoomForActiveDoctorAsync(tenant, ct) is { } full)
        {
            return full;
        }

        // Field names only: the audit log keeps no personal data.
        var changed = new List<string>();
        Compare(changed, "fullName", current.FullName, next.FullName);
        Compare(changed, "specialty", current.Specialty, next.Specialty);
        Compare(changed, "email", current.Email, next.Email);
        Compare(changed, "phone", current.Phone, next.Phone);
        Compare(changed, "userId", current.UserId, next.UserId);
        Compare(changed, "active", current.Active, next.Active);
        Compare(changed, "color", current.Color, next.Color);
        if (changed.Count == 0)
        {
            return TypedResults.Ok(current);
        }

        Response doctor;
        try
        {
            doctor = await tenant.QuerySingleAsync<Response>(UpdateSql, new
            {
                tenant.ClinicId,
                Id = id,
                next.FullName,
                next.Specialty,
                next.Email,
                next.Phone,
                next.UserId,
                next.Active,
                next.Color,
            }, ct);
        }
        catch (PostgresException e) when (DoctorRules.IsUserTaken(e))
        {
            return DoctorRules.UserTaken();
        }

        await tenant.AuditAsync("doctor.update", "doctor", id, new { fields = changed }, ct);
        return TypedResults.Ok(doctor);
    }

    private static string? Next(string? given, string? current) => given is null ? current : given.TrimToNull();

    private static void Compare<T>(List<string> changed, string name, T before, T after)
    {
        if (!EqualityComparer<T>.Default.Equals(before, after))
        {
            changed.Add(name);
        }
    }

    public sealed record Response(Guid Id, string FullName, string? Specialty, string? Email, string? Phone, Guid? UserId,
        bool Active, string? Color, DateTimeOffset CreatedAt);
}
