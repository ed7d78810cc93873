using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Stripe;

namespace ClinicFlow.Slices.Billing;

/// <summary>POST /api/billing/portal: a Stripe billing portal session for the clinic's customer (409 before its first checkout).</summary>
public sealed class CreatePortalSession : ICarterModule
{
    private const string CustomerSql = "select stripe_customer_id from clinics where id = @ClinicId";

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/billing")
            .MapPost("/portal", Handle)
            .RequireAdmin()
            .AllowExpiredSubscription()
            .UsesLargePool()
            .WithName(nameof(CreatePortalSession))
            .WithSummary("Open Stripe's billing portal for the clinic; answers its URL")
            .ProducesErrors(StatusCodes.Status409Conflict);

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(
        Tenant tenant, IStripeClient stripe, IOptions<StripeOptions> options, CancellationToken ct)
    {
        if (!options.Value.IsConfigured)
        {
            return StripeSetup.Unavailable();
        }

        var customerId = await tenant.QuerySingleOrDefaultAsync<string>(CustomerSql, new { tenant.ClinicId }, ct);
        if (customerId is null)
        {
            return ApiProblem.Conflict(ErrorCodes.InvalidState, new(
                "The clinic has no billing account yet: start a checkout first.",
                "La clínica aún no tiene cuenta de facturación: inicie primero un pago.",
                "Die Praxis hat noch kein Abrechnungskonto: starten Sie zuerst einen Bezahlvorgang."));
        }

        Stripe.BillingPortal.Session session;
        try
        {
            session = await new Stripe.BillingPortal.SessionService(stripe).CreateAsync(new Stripe.BillingPortal.SessionCreateOptions
            {
                Customer = customerId,
                ReturnUrl = tenant.Http.PublicUrl("/billing"),
            }, cancellationToken: ct);
        }
        catch (Exception e) when (StripeSetup.IsFailure(e, ct))
        {
            return StripeSetup.Unavailable();
        }

        await tenant.AuditAsync("billing.portal_open", "clinic", tenant.ClinicId, new { sessionId = session.Id }, ct);
        return TypedResults.Ok(new Response(session.Url));
    }

    public sealed record Response(string Url);
}
