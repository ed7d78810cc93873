using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Auth;
using ClinicFlow.Slices.Clinics;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace ClinicFlow.Slices.Users;

/// <summary>POST /api/users: an admin creates a staff user of the clinic, within the plan's user limit.</summary>
public sealed class CreateUser : ICarterModule
{
    public sealed record Request(string? Email, string? FullName, AppRole? Role, string? Password, string? Phone, string? Locale);

    public sealed record Response(Guid Id, string Email, string FullName, string Role, bool Active, string? Phone,
        string Locale, Guid ClinicId, DateTimeOffset CreatedAt);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.Email).NotEmpty().EmailAddress().MaximumLength(254);
            RuleFor(r => r.FullName).NotEmpty().MaximumLength(200);
            RuleFor(r => r.Role).NotNull();
            RuleFor(r => r.Password).StrongPassword();
            RuleFor(r => r.Phone).MaximumLength(40);
            RuleFor(r => r.Locale).Must(l => ClinicRules.Locales.Contains(l)).When(r => r.Locale is not null)
                .WithMessage("Use en, es or de.");
        }
    }

    private const string Sql = """
        insert into users (id, clinic_id, email, password_hash, full_name, role, phone, locale)
        values (@Id, @ClinicId, @Email, @PasswordHash, @FullName, @Role, @Phone, @Locale)
        returning id, email, full_name, role, active, phone, locale, clinic_id, created_at
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/users")
            .MapPost("/", Handle)
            .RequireAdmin()
            .UsesLargePool()
            .WithName(nameof(CreateUser))
            .WithSummary("Create a staff user (admin, doctor or staff)")
            .ProducesErrors(StatusCodes.Status409Conflict);

    private static async Task<Results<Created<Response>, ApiProblem>> Handle(
        Request request, Tenant tenant, Validator validator, PasswordHashing passwords, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        var (phone, problem) = await ClinicRules.NormalizePhoneAsync(tenant, request.Phone, ct);
        if (problem is not null)
        {
            return problem;
        }

        var capacity = await ClinicRules.UserCapacityAsync(tenant, tenant.ClinicId, ct);
        if (!capacity.HasRoom)
        {
            return ApiProblem.Forbidden(ErrorCodes.UserLimitReached);
        }

        Response user;
        try
        {
            user = await tenant.QuerySingleAsync<Response>(Sql, new
            {
                Id = Guid.CreateVersion7(),
                tenant.ClinicId,
                Email = request.Email!.Trim(),
                PasswordHash = passwords.Hash(request.Password!),
                FullName = request.FullName!.Trim(),
                Role = request.Role!.Value.ToString().ToLowerInvariant(),
                Phone = phone,
                Locale = request.Locale ?? "en",
            }, ct);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            return ApiProblem.Conflict(ErrorCodes.AlreadyExists, new(
                "An account with this email already exists.", "Ya existe una cuenta con este correo.", "Es gibt bereits ein Konto mit dieser E-Mail."));
        }

        await tenant.AuditAsync("user.create", "user", user.Id, new { user.Email, user.Role }, ct);
        return TypedResults.Created($"/api/users/{user.Id}", user);
    }
}
