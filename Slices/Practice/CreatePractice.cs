using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Auth;
using ClinicFlow.Slices.Clinics;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Practice;

/// <summary>POST /api/practice: a signed-in user without a clinic creates one, becomes its admin and gets a new token.</summary>
public sealed class CreatePractice : ICarterModule
{
    public sealed record Request(string? Name, string? Timezone, string? Country, string? Locale, string? Phone, string? Address);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.Name).NotEmpty().MaximumLength(200);
            RuleFor(r => r.Timezone).Must(ClinicRules.IsTimezone).When(r => r.Timezone is not null)
                .WithMessage("Unknown IANA time zone.");
            RuleFor(r => r.Country).Must(ClinicRules.IsCountry).When(r => r.Country is not null)
                .WithMessage("Use an ISO 3166-1 alpha-2 code such as AR or DE.");
            RuleFor(r => r.Locale).Must(l => ClinicRules.Locales.Contains(l)).When(r => r.Locale is not null)
                .WithMessage("Use en, es or de.");
            RuleFor(r => r.Phone).MaximumLength(40);
            RuleFor(r => r.Address).MaximumLength(500);
        }
    }

    // The new clinic becomes this transaction's tenant, so row-level security lets its row be written.
    private const string TenantSql = "select set_config('app.clinic_id', @ClinicId::text, true)";

    private const string InsertClinicSql = """
        insert into clinics (id, name, timezone, country, currency, locale, phone, address, plan, subscription_status,
                             subscription_expires_at)
        values (@ClinicId, @Name, @Timezone, @Country, @Currency, @Locale, @Phone, @Address, 'pro', 'trialing',
                now() + make_interval(days => @TrialDays))
        """;

    // "clinic_id is null" makes a concurrent second creation by the same user find nothing to update.
    private const string AdoptUserSql = """
        update users set clinic_id = @ClinicId, role = 'admin', updated_at = now()
        where id = @UserId and clinic_id is null
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/practice")
            .MapPost("/", Handle)
            .AllowNoClinic()
            .WithName(nameof(CreatePractice))
            .WithSummary("Create a practice for a user without one; the user becomes its admin and gets a new token")
            .ProducesErrors(StatusCodes.Status403Forbidden, StatusCodes.Status409Conflict);

    private static async Task<Results<Created<AuthRules.Session>, ApiProblem>> Handle(
        Request request, Tenant tenant, Validator validator, JwtIssuer issuer, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        if (tenant.HasClinic)
        {
            return AlreadyInAPractice();
        }

        var clinicId = Guid.CreateVersion7();
        var setup = ClinicRules.NewClinic(request.Country, request.Timezone, request.Locale);
        var name = request.Name!.Trim();
        await tenant.ExecuteAsync(TenantSql, new { ClinicId = clinicId }, ct);
        await tenant.ExecuteAsync(InsertClinicSql, new
        {
            ClinicId = clinicId,
            Name = name,
            setup.Timezone,
            setup.Country,
            setup.Currency,
            setup.Locale,
            Phone = request.Phone.TrimToNull(),
            Address = request.Address.TrimToNull(),
            ClinicRules.TrialDays,
        }, ct);

        if (await tenant.ExecuteAsync(AdoptUserSql, new { ClinicId = clinicId, tenant.UserId }, ct) == 0)
        {
            return AlreadyInAPractice();
        }

        await tenant.AuditAsync(clinicId, "clinic.create", "clinic", clinicId, new { name, plan = "pro", adminId = tenant.UserId }, ct);
        var session = await AuthRules.SessionAsync(tenant, issuer, tenant.UserId, ct);
        return TypedResults.Created("/api/practice", session);
    }

    private static ApiProblem AlreadyInAPractice() =>
        ApiProblem.Conflict(ErrorCodes.AlreadyExists, new(
            "You already belong to a practice.", "Ya pertenece a una clínica.", "Sie gehören bereits zu einer Praxis."));
}
