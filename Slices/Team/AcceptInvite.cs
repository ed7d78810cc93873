using System.Security.Claims;
using System.Text.Json;
using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Auth;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace ClinicFlow.Slices.Team;

/// <summary>
/// POST /api/team/invite/{token}/accept: a new user (fullName, password) or the signed-in user without
/// a clinic joins with the invite's role and gets a token. The link works once.
/// </summary>
public sealed class AcceptInvite : ICarterModule
{
    /// <summary>Only for a new account; a signed-in caller sends no body.</summary>
    public sealed record Request(string? FullName, string? Password);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.FullName).NotEmpty().MaximumLength(200);
            RuleFor(r => r.Password).StrongPassword();
        }
    }

    // Claiming is one update: of two concurrent accepts, the second finds the link used.
    private const string ClaimSql = """
        update team_invites i
           set accepted_at = now(), accepted_by = @UserId
          from clinics c
         where i.token_hash = @TokenHash and i.accepted_at is null and i.revoked_at is null and i.expires_at > now()
           and c.id = i.clinic_id
        returning i.id, i.clinic_id, i.role, i.email::text as email, c.locale
        """;

    private const string CallerSql = "select token_version, active, clinic_id from users where id = @UserId for update";

    private const string JoinSql = """
        update users set clinic_id = @ClinicId, role = @Role, updated_at = now()
        where id = @UserId and clinic_id is null
        """;

    private const string InsertUserSql = """
        insert into users (id, clinic_id, email, password_hash, full_name, role, locale)
        values (@Id, @ClinicId, @Email, @PasswordHash, @FullName, @Role, @Locale)
        """;

    private sealed record Claimed(Guid Id, Guid ClinicId, string Role, string Email, string Locale);

    private sealed record Caller(int TokenVersion, bool Active, Guid? ClinicId);

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapSystemGroup("/team", RateLimits.PublicLinks)
            .MapPost("/invite/{token}/accept", Handle)
            .UsesLargePool()
            .WithName(nameof(AcceptInvite))
            .WithSummary("Accept a team invite as a new user (fullName, password) or as the signed-in user without a clinic")
            .Accepts<Request>(isOptional: true, "application/json")
            .ProducesErrors(StatusCodes.Status401Unauthorized, StatusCodes.Status403Forbidden, StatusCodes.Status404NotFound,
                StatusCodes.Status409Conflict, StatusCodes.Status410Gone, StatusCodes.Status415UnsupportedMediaType);

    private static async Task<Results<Ok<AuthRules.Session>, ApiProblem>> Handle(
        string token, SystemScope db, Validator validator, PasswordHashing passwords, JwtIssuer issuer, CancellationToken ct)
    {
        var http = db.Http;
        var (request, unreadable) = await ReadBodyAsync(http.Request, ct);
        if (unreadable is not null)
        {
            return unreadable;
        }

        var signedIn = http.Request.Headers.Authorization.Count > 0;
        Guid userId;
        if (signedIn)
        {
            // The token must be valid and still current (same checks as every signed-in route).
            if (http.User.Identity?.IsAuthenticated != true
                || !Guid.TryParse(http.User.FindFirstValue("sub"), out userId)
                || !int.TryParse(http.User.FindFirstValue("tv"), out var tokenVersion))
            {
                return ApiProblem.Unauthorized();
            }

            var caller = await db.QuerySingleOrDefaultAsync<Caller>(CallerSql, new { UserId = userId }, ct);
            if (caller is null || caller.TokenVersion != tokenVersion || caller.ClinicId?.ToString() != http.User.FindFirstValue("clinic_id"))
            {
                return ApiProblem.Unauthorized();
            }

            if (!caller.Active)
            {
                return ApiProblem.Forbidden(ErrorCodes.UserInactive);
            }

            if (caller.ClinicId is not null)
            {
                return AlreadyInAClinic();
            }
        }
        else
        {
            var validation = await validator.ValidateAsync(request ?? new Request(null, null), ct);
            if (!validation.IsValid)
            {
                return ApiProblem.Validation(validation);
            }

            userId = Guid.CreateVersion7();
        }

        var claimed = await db.QuerySingleOrDefaultAsync<Claimed>(ClaimSql, new { TokenHash = SecretBox.Hash(token), UserId = userId }, ct);
        if (claimed is null)
        {
            var invite = await TeamRules.FindInviteAsync(db, token, ct);
            return invite is null ? ApiProblem.NotFound() : TeamRules.Gone(invite) ?? ApiProblem.NotFound();
        }

        if (signedIn)
        {
            if (await db.ExecuteAsync(JoinSql, new { claimed.ClinicId, claimed.Role, UserId = userId }, ct) == 0)
            {
                return AlreadyInAClinic();
            }
        }
        else
        {
            try
            {
                await db.ExecuteAsync(InsertUserSql, new
                {
                    Id = userId,
                    claimed.ClinicId,
                    claimed.Email,
                    PasswordHash = passwords.Hash(request!.Password!),
                    FullName = request.FullName!.Trim(),
                    claimed.Role,
                    claimed.Locale,
                }, ct);
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
            {
                return ApiProblem.Conflict(ErrorCodes.AlreadyExists, new(
                    "An account with this email already exists: sign in, then accept the invitation.",
                    "Ya existe una cuenta con este correo: inicie sesión y luego acepte la invitación.",
                    "Es gibt bereits ein Konto mit dieser E-Mail: melden Sie sich an und nehmen Sie die Einladung dann an."));
            }
        }

        db.ActAs(userId);
        await db.AuditAsync(claimed.ClinicId, "team.invite_accept", "team_invite", claimed.Id,
            new { userId, role = claimed.Role, newAccount = !signedIn }, ct);
        return TypedResults.Ok(await AuthRules.SessionAsync(db, issuer, userId, ct));
    }

    // The body is optional (a signed-in caller sends none), which minimal APIs' binding would refuse
    // with 415 when no content type comes with it; so it is read here.
    private static async Task<(Request? Request, ApiProblem? Problem)> ReadBodyAsync(HttpRequest http, CancellationToken ct)
    {
        if (http.ContentLength is null or 0 && !http.Headers.ContainsKey("Transfer-Encoding"))
        {
            return (null, null);
        }

        if (!http.HasJsonContentType())
        {
            return (null, ApiProblem.Of(StatusCodes.Status415UnsupportedMediaType, ErrorCodes.UnsupportedMediaType));
        }

        try
        {
            return (await http.ReadFromJsonAsync<Request>(ct), null);
        }
        catch (JsonException)
        {
            return (null, ApiProblem.Of(StatusCodes.Status400BadRequest, ErrorCodes.InvalidJson));
        }
    }

    private static ApiProblem AlreadyInAClinic() => ApiProblem.Conflict(ErrorCodes.AlreadyExists, new(
        "You already belong to a clinic.", "Ya pertenece a una clínica.", "Sie gehören bereits zu einer Praxis."));
}
