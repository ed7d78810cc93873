using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Clinics;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Stripe;

namespace ClinicFlow.Slices.Billing;

/// <summary>
/// POST /api/billing/checkout: a Stripe Checkout Session in subscription mode for the chosen plan and
/// interval, for the clinic's Stripe customer (created on first use). The plan moves only when
/// Stripe's webhook says the payment went through.
/// </summary>
public sealed class CreateCheckout : ICarterModule
{
    public sealed record Request(string? Plan, string? Interval);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.Plan).NotEmpty().Must(p => ClinicRules.Plans.Contains(p)).WithMessage("Use basic, pro or enterprise.");
            RuleFor(r => r.Interval).NotEmpty().Must(i => i is "month" or "year").WithMessage("Use month or year.");
        }
    }

    // The clinic row lock keeps two concurrent checkouts from creating two Stripe customers.
    private const string ClinicSql = "select name, stripe_customer_id from clinics where id = @ClinicId for update";

    private const string SaveCustomerSql = "update clinics set stripe_customer_id = @CustomerId, updated_at = now() where id = @ClinicId";

    private sealed record ClinicRow(string Name, string? StripeCustomerId);

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/billing")
            .MapPost("/checkout", Handle)
            .RequireAdmin()
            .AllowExpiredSubscription()
            .UsesLargePool()
            .WithName(nameof(CreateCheckout))
            .WithSummary("Start a Stripe Checkout Session for a plan and interval; answers its URL");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(
        Request request, Tenant tenant, Validator validator, IStripeClient stripe, IOptions<StripeOptions> options, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        var settings = options.Value;
        if (!settings.IsConfigured)
        {
            return StripeSetup.Unavailable();
        }

        var plan = request.Plan!;
        var interval = request.Interval!;
        if (settings.PriceFor(plan, interval) is not { } price)
        {
            return ApiProblem.Validation("plan", new(
                "This plan is not offered with this interval.",
                "Este plan no se ofrece con este intervalo.",
                "Dieser Tarif wird mit diesem Intervall nicht angeboten."));
        }

        var clinic = await tenant.QuerySingleAsync<ClinicRow>(ClinicSql, new { tenant.ClinicId }, ct);
        var clinicId = tenant.ClinicId.ToString();
        Stripe.Checkout.Session session;
        try
        {
            var customerId = clinic.StripeCustomerId;
            if (customerId is null)
            {
                // Stripe answers a retried creation with the same customer (idempotency key), so a
                // request that fails after Stripe created it does not leave a second one behind.
                var customer = await new CustomerService(stripe).CreateAsync(new CustomerCreateOptions
                {
                    Email = tenant.Email,
                    Name = clinic.Name,
                    Metadata = new Dictionary<string, string> { ["clinicId"] = clinicId },
                }, new RequestOptions { IdempotencyKey = "clinicflow-customer-" + clinicId }, ct);
                customerId = customer.Id;
                await tenant.ExecuteAsync(SaveCustomerSql, new { tenant.ClinicId, CustomerId = customerId }, ct);
                await tenant.AuditAsync("billing.customer_create", "clinic", tenant.ClinicId, new { customerId }, ct);
            }

            var metadata = new Dictionary<string, string> { ["clinicId"] = clinicId, ["plan"] = plan, ["interval"] = interval };
            session = await new Stripe.Checkout.SessionService(stripe).CreateAsync(new Stripe.Checkout.SessionCreateOptions
            {
                Mode = "subscription",
                Customer = customerId,
                ClientReferenceId = clinicId,
                LineItems = [new Stripe.Checkout.SessionLineItemOptions { Price = price, Quantity = 1 }],
                Metadata = metadata,
                SubscriptionData = new Stripe.Checkout.SessionSubscriptionDataOptions { Metadata = new Dictionary<string, string>(metadata) },
                SuccessUrl = tenant.Http.PublicUrl("/billing/success?session_id={CHECKOUT_SESSION_ID}"),
                CancelUrl = tenant.Http.PublicUrl("/billing/cancel"),
            }, cancellationToken: ct);
        }
        catch (Exception e) when (StripeSetup.IsFailure(e, ct))
        {
            return StripeSetup.Unavailable();
        }

        await tenant.AuditAsync("billing.checkout", "clinic", tenant.ClinicId, new { plan, interval, sessionId = session.Id }, ct);
        return TypedResults.Ok(new Response(session.Url, session.Id));
    }

    public sealed record Response(string Url, string SessionId);
}
