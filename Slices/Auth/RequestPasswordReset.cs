using System.Security.Cryptography;
using Carter;
using ClinicFlow.Infrastructure;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.IdentityModel.Tokens;

namespace ClinicFlow.Slices.Auth;

/// <summary>POST /api/auth/password-reset/request: emails a single-use reset link valid one hour; always 202 (no account enumeration).</summary>
public sealed class RequestPasswordReset : ICarterModule
{
    public sealed record Request(string? Email);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.Email).NotEmpty().EmailAddress().MaximumLength(254);
        }
    }

    private sealed record Account(Guid Id, Guid? ClinicId, string Email, string Locale, bool Active);

    private const string AccountSql = "select id, clinic_id, email, locale, active from users where email = @Email::citext";

    private const string InsertTokenSql = """
        insert into password_reset_tokens (token_hash, user_id, expires_at)
        values (@TokenHash, @UserId, now() + interval '1 hour')
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapSystemGroup("/auth", RateLimits.Register)
            .MapPost("/password-reset/request", Handle)
            .WithName(nameof(RequestPasswordReset))
            .WithSummary("Email a password reset link (always accepted)");

    private static async Task<Results<Accepted<Response>, ApiProblem>> Handle(
        Request request, SystemScope db, Validator validator, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        var account = await db.QuerySingleOrDefaultAsync<Account>(AccountSql, new { Email = request.Email!.Trim() }, ct);
        if (account is { Active: true })
        {
            var token = Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(32));
            await db.ExecuteAsync(InsertTokenSql, new { TokenHash = AuthRules.ResetTokenHash(token), UserId = account.Id }, ct);
            var link = db.Http.PublicUrl("/reset-password?token=" + token);
            var (subject, body) = Message(account.Locale, link);
            await db.EnqueueEmailAsync(account.ClinicId, account.Email, subject, body, ct);
            await db.AuditAsync(account.ClinicId ?? Audit.PlatformChain, "user.password_reset_requested", "user", account.Id, null, ct);
        }

        return TypedResults.Accepted((string?)null, new Response("accepted"));
    }

    private static (string Subject, string Body) Message(string locale, string link) => locale switch
    {
        "es" => ("Restablecer su contraseña de ClinicFlow",
            $"Recibimos una solicitud para restablecer su contraseña.\n\nAbra este enlace dentro de una hora para elegir una nueva:\n{link}\n\nSi no fue usted, ignore este correo: su contraseña no cambia."),
        "de" => ("Ihr ClinicFlow-Passwort zurücksetzen",
            $"Wir haben eine Anfrage zum Zurücksetzen Ihres Passworts erhalten.\n\nÖffnen Sie diesen Link innerhalb einer Stunde, um ein neues zu wählen:\n{link}\n\nWenn Sie das nicht waren, ignorieren Sie diese E-Mail: Ihr Passwort bleibt unverändert."),
        _ => ("Reset your ClinicFlow password",
            $"We received a request to reset your password.\n\nOpen this link within one hour to choose a new one:\n{link}\n\nIf this was not you, ignore this email: your password stays the same."),
    };

    public sealed record Response(string Status);
}
