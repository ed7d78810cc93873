using System.Security.Cryptography;
using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Clinics;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace ClinicFlow.Slices.Superadmin;

/// <summary>POST /api/superadmin/invite-codes: a code for invite-only registration (generated when none is given).</summary>
public sealed class CreateInviteCode : ICarterModule
{
    public sealed record Request(string? Code, int? MaxUses, DateTimeOffset? ExpiresAt, string? Plan);

    public const int MaxMaxUses = 10_000;
    public const int GeneratedLength = 12;

    // No 0/O, 1/I/L: codes are read out over the phone and typed by hand.
    private const string Alphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.Code).Length(4, 64).Matches("^[A-Za-z0-9_-]+$").When(r => r.Code is not null)
                .WithMessage("Use 4 to 64 letters, digits, '-' or '_'.");
            RuleFor(r => r.MaxUses).InclusiveBetween(1, MaxMaxUses);
            RuleFor(r => r.ExpiresAt).Must(at => at > DateTimeOffset.UtcNow).When(r => r.ExpiresAt is not null)
                .WithMessage("The expiry must be in the future.");
            RuleFor(r => r.Plan).Must(p => ClinicRules.Plans.Contains(p)).When(r => r.Plan is not null)
                .WithMessage("Use basic, pro or enterprise.");
        }
    }

    private const string Sql = """
        insert into invite_codes (code, max_uses, expires_at, plan)
        values (@Code, @MaxUses, @ExpiresAt::timestamptz, @Plan)
        returning code, max_uses, uses, expires_at, plan, revoked_at, created_at, 'active' as status
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapSuperadminGroup("/invite-codes")
            .MapPost("/", Handle)
            .WithName(nameof(CreateInviteCode))
            .WithSummary("Create an invite code (maxUses default 1, plan default pro); generated when code is absent")
            .ProducesErrors(StatusCodes.Status409Conflict);

    private static async Task<Results<Created<Response>, ApiProblem>> Handle(
        Request request, SystemScope db, Validator validator, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        Response code;
        try
        {
            code = await db.QuerySingleAsync<Response>(Sql, new
            {
                Code = request.Code ?? RandomNumberGenerator.GetString(Alphabet, GeneratedLength),
                MaxUses = request.MaxUses ?? 1,
                request.ExpiresAt,
                Plan = request.Plan ?? "pro",
            }, ct);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            return ApiProblem.Conflict(ErrorCodes.AlreadyExists, new(
                "This invite code already exists.", "Este código de invitación ya existe.", "Dieser Einladungscode existiert bereits."));
        }

        await db.AuditAsync(Audit.PlatformChain, "invite_code.create", "invite_code", code.Code,
            new { code.MaxUses, code.ExpiresAt, code.Plan }, ct);
        return TypedResults.Created($"/api/superadmin/invite-codes/{code.Code}", code);
    }

    public sealed record Response(string Code, int MaxUses, int Uses, DateTimeOffset? ExpiresAt, string Plan, DateTimeOffset? RevokedAt,
        DateTimeOffset CreatedAt, string Status);
}
