using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Clinics;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace ClinicFlow.Slices.Doctors;

/// <summary>POST /api/doctors: an admin adds an active doctor within the plan's doctor limit, optionally linked to a doctor user.</summary>
public sealed class CreateDoctor : ICarterModule
{
    public sealed record Request(string? FullName, string? Specialty, string? Email, string? Phone, string? Color, Guid? UserId);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.FullName).NotEmpty().MaximumLength(200);
            RuleFor(r => r.Specialty).MaximumLength(200);
            RuleFor(r => r.Email).MaximumLength(254).EmailAddress().When(r => !string.IsNullOrWhiteSpace(r.Email));
            RuleFor(r => r.Phone).MaximumLength(40);
            RuleFor(r => r.Color).Color();
            RuleFor(r => r.UserId).NotEqual(Guid.Empty);
        }
    }

    private const string Sql = """
        insert into doctors (id, clinic_id, full_name, specialty, email, phone, user_id, color)
        values (@Id, @ClinicId, @FullName, @Specialty, @Email, @Phone, @UserId, @Color)
        returning id, full_name, specialty, email::text as email, phone, user_id, active, color, created_at
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/doctors")
            .MapPost("/", Handle)
            .RequireAdmin()
            .WithName(nameof(CreateDoctor))
            .WithSummary("Add a doctor (DOCTOR_LIMIT_REACHED beyond the plan's active doctors)")
            .ProducesErrors(StatusCodes.Status409Conflict);

    private static async Task<Results<Created<Response>, ApiProblem>> Handle(
        Request request, Tenant tenant, Validator validator, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        var (phone, problem) = await ClinicRules.NormalizePhoneAsync(tenant, request.Phone.TrimToNull(), ct);
        if (problem is not null)
        {
            return problem;
        }

        if (request.UserId is { } userId && await DoctorRules.CheckLinkableUserAsync(tenant, userId, ct) is { } refused)
        {
            return refused;
        }

        if (await DoctorRules.CheckRoomForActiveDoctorAsync(tenant, ct) is { } full)
        {
            return full;
        }

        var values = new
        {
            Id = Guid.CreateVersion7(),
            tenant.ClinicId,
            FullName = request.FullName!.Trim(),
            Specialty = request.Specialty.TrimToNull(),
            Email = request.Email.TrimToNull(),
            Phone = phone,
            request.UserId,
            Color = DoctorRules.CleanColor(request.Color),
        };

        Response doctor;
        try
        {
            doctor = await tenant.QuerySingleAsync<Response>(Sql, values, ct);
        }
        catch (PostgresException e) when (DoctorRules.IsUserTaken(e))
        {
            return DoctorRules.UserTaken();
        }

        // Field names only: the audit log keeps no personal data.
        var given = new List<string> { "fullName" };
        AddIfGiven(given, "specialty", values.Specialty);
        AddIfGiven(given, "email", values.Email);
        AddIfGiven(given, "phone", values.Phone);
        AddIfGiven(given, "userId", values.UserId);
        AddIfGiven(given, "color", values.Color);
        await tenant.AuditAsync("doctor.create", "doctor", doctor.Id, new { fields = given }, ct);
        return TypedResults.Created($"/api/doctors/{doctor.Id}", doctor);
    }

    private static void AddIfGiven(List<string> fields, string name, object? value)
    {
        if (value is not null)
        {
            fields.Add(name);
        }
    }

    public sealed record Response(Guid Id, string FullName, string? Specialty, string? Email, string? Phone, Guid? UserId,
        bool Active, string? Color, DateTimeOffset CreatedAt);
}
