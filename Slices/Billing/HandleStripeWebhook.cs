using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Clinics;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Stripe;

namespace ClinicFlow.Slices.Billing;

/// <summary>
/// POST /api/billing/webhook: Stripe's events, signature-checked (300 s tolerance), each event id
/// handled once — also when Stripe delivers it twice at the same moment — and never applied over a
/// newer one, so a late delivery cannot move a subscription backwards. Only Stripe moves the plan.
/// </summary>
public sealed class HandleStripeWebhook : ICarterModule
{
    // The unique key decides: of two deliveries of one event, the second waits for the first's
    // transaction and then finds the id taken, so the change happens once.
    private const string ClaimEventSql = """
        insert into stripe_events (id, type, created_at, outcome)
        values (@Id, @Type, @CreatedAt, 'ignored')
        on conflict (id) do nothing
        """;

    private const string OutcomeSql = "update stripe_events set outcome = @Outcome, clinic_id = @ClinicId where id = @Id";

    private const string ClinicByCustomerSql = "select id from clinics where stripe_customer_id = @CustomerId";

    private const string LockClinicSql = """
        select id, plan, subscription_status, subscription_expires_at, stripe_customer_id, stripe_subscription_id, stripe_event_at
        from clinics
        where id = @ClinicId
        for update
        """;

    private const string ApplySql = """
        update clinics
           set plan = @Plan, subscription_status = @SubscriptionStatus, subscription_expires_at = @SubscriptionExpiresAt,
               stripe_customer_id = @StripeCustomerId, stripe_subscription_id = @StripeSubscriptionId,
               stripe_event_at = greatest(stripe_event_at, @EventAt), updated_at = now()
         where id = @Id
        """;

    private sealed record State(Guid Id, string Plan, string SubscriptionStatus, DateTimeOffset? SubscriptionExpiresAt,
        string? StripeCustomerId, string? StripeSubscriptionId, DateTimeOffset? StripeEventAt);

    /// <summary>What one event says about a clinic's subscription; null fields leave the clinic's value.</summary>
    private sealed record Change(Guid? ClinicId, string? CustomerId, string? SubscriptionId, bool TakesOver, string? Plan,
        string? Status, DateTimeOffset? ExpiresAt, bool ExtendOnly = false, bool OnlyWhenCurrent = true);

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapSystemGroup("/billing", null)
            .MapPost("/webhook", Handle)
            .WithName(nameof(HandleStripeWebhook))
            .WithSummary("Stripe webhook: verified by Stripe-Signature, each event handled once, out-of-order safe")
            .Accepts<string>("application/json")
            .ProducesErrors(StatusCodes.Status400BadRequest);

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(
        SystemScope db, IOptions<StripeOptions> options, CancellationToken ct)
    {
        var secret = options.Value.WebhookSecret;
        if (string.IsNullOrWhiteSpace(secret))
        {
            // Stripe retries on 5xx, so events wait until the operator sets the secret.
            return StripeSetup.Unavailable();
        }

        using var reader = new StreamReader(db.Http.Request.Body);
        var json = await reader.ReadToEndAsync(ct);
        var signature = db.Http.Request.Headers["Stripe-Signature"].ToString();
        Event stripeEvent;
        try
        {
            if (string.IsNullOrEmpty(signature))
            {
                return InvalidSignature();
            }

            stripeEvent = EventUtility.ConstructEvent(json, signature, secret.Trim(),
                tolerance: StripeSetup.WebhookToleranceSeconds, throwOnApiVersionMismatch: false);
        }
        catch (StripeException)
        {
            return InvalidSignature();
        }

        db.ActAsKind("system");
        var eventAt = new DateTimeOffset(DateTime.SpecifyKind(stripeEvent.Created, DateTimeKind.Utc));
        var claimed = await db.ExecuteAsync(ClaimEventSql, new { stripeEvent.Id, stripeEvent.Type, CreatedAt = eventAt }, ct);
        if (claimed == 0)
        {
            return TypedResults.Ok(new Response(stripeEvent.Id, stripeEvent.Type, "duplicate"));
        }

        var change = Read(stripeEvent, options.Value);
        var (outcome, clinicId) = change is null ? ("ignored", (Guid?)null) : await ApplyAsync(db, stripeEvent, eventAt, change, ct);
        await db.ExecuteAsync(OutcomeSql, new { stripeEvent.Id, Outcome = outcome, ClinicId = clinicId }, ct);
        return TypedResults.Ok(new Response(stripeEvent.Id, stripeEvent.Type, outcome));
    }

    private static ApiProblem InvalidSignature() => ApiProblem.Of(StatusCodes.Status400BadRequest, ErrorCodes.InvalidSignature, new(
        "The Stripe signature is missing, wrong or too old.",
        "La firma de Stripe falta, es incorrecta o es demasiado antigua.",
        "Die Stripe-Signatur fehlt, ist falsch oder zu alt."));

    /// <summary>What an event of a handled type says; null for types and states that move nothing.</summary>
    private static Change? Read(Event stripeEvent, StripeOptions options) => stripeEvent.Data.Object switch
    {
        Stripe.Checkout.Session { Mode: "subscription" } s when stripeEvent.Type == EventTypes.CheckoutSessionCompleted
            && s.PaymentStatus is "paid" or "no_payment_required" => new Change(
                ClinicOf(s.ClientReferenceId) ?? ClinicOf(Meta(s.Metadata, "clinicId")),
                s.CustomerId, s.SubscriptionId, TakesOver: true,
                Plan: Known(Meta(s.Metadata, "plan")), Status: "active",
                // Stripe's customer.subscription.* events carry the exact period end; until one
                // arrives, the paid interval from now is a safe lower bound.
                ExpiresAt: PaidUntil(stripeEvent.Created, Meta(s.Metadata, "interval")), ExtendOnly: true),
        Subscription sub when stripeEvent.Type is EventTypes.CustomerSubscriptionCreated or EventTypes.CustomerSubscriptionUpdated
            && MapStatus(sub.Status) is { } status => new Change(
                ClinicOf(Meta(sub.Metadata, "clinicId")), sub.CustomerId, sub.Id,
                TakesOver: stripeEvent.Type == EventTypes.CustomerSubscriptionCreated,
                Plan: options.PlanOf(sub.Items?.Data?.FirstOrDefault()?.Price?.Id) ?? Known(Meta(sub.Metadata, "plan")),
                Status: status,
                ExpiresAt: status == "canceled" ? Utc(sub.EndedAt) ?? PeriodEnd(sub) : PeriodEnd(sub)),
        Subscription sub when stripeEvent.Type == EventTypes.CustomerSubscriptionDeleted => new Change(
            ClinicOf(Meta(sub.Metadata, "clinicId")), sub.CustomerId, sub.Id, TakesOver: false,
            Plan: null, Status: "canceled", ExpiresAt: Utc(sub.EndedAt) ?? Utc(stripeEvent.Created)),
        Invoice inv when stripeEvent.Type == EventTypes.InvoicePaid && SubscriptionOf(inv) is { } subscriptionId => new Change(
            null, inv.CustomerId, subscriptionId, TakesOver: false, Plan: null, Status: "active",
            ExpiresAt: inv.Lines?.Data?.Select(l => Utc(l.Period?.End)).Max(), ExtendOnly: true),
        Invoice inv when stripeEvent.Type == EventTypes.InvoicePaymentFailed && SubscriptionOf(inv) is { } subscriptionId => new Change(
            null, inv.CustomerId, subscriptionId, TakesOver: false, Plan: null, Status: "past_due", ExpiresAt: null),
        _ => null,
    };

    private static async Task<(string Outcome, Guid? ClinicId)> ApplyAsync(
        SystemScope db, Event stripeEvent, DateTimeOffset eventAt, Change change, CancellationToken ct)
    {
        var clinicId = change.ClinicId;
        if (clinicId is null && change.CustomerId is not null)
        {
            clinicId = await db.QuerySingleOrDefaultAsync<Guid?>(ClinicByCustomerSql, new { change.CustomerId }, ct);
        }

        var before = clinicId is null ? null : await db.QuerySingleOrDefaultAsync<State>(LockClinicSql, new { ClinicId = clinicId }, ct);
        if (before is null)
        {
            return ("ignored", null);
        }

        // A customer or subscription of someone else never moves this clinic; nor does an old
        // subscription once the clinic moved on to a newer one.
        if ((before.StripeCustomerId is not null && change.CustomerId is not null && before.StripeCustomerId != change.CustomerId)
            || (!change.TakesOver && before.StripeSubscriptionId is not null && change.SubscriptionId != before.StripeSubscriptionId))
        {
            return ("ignored", before.Id);
        }

        if (before.StripeEventAt is { } newest && eventAt < newest)
        {
            return ("stale", before.Id);
        }

        var status = change.Status ?? before.SubscriptionStatus;
        if (change.Status == "past_due" && before.SubscriptionStatus is "canceled" or "expired")
        {
            status = before.SubscriptionStatus;
        }

        var expiresAt = change.ExpiresAt switch
        {
            null => before.SubscriptionExpiresAt,
            { } at when change.ExtendOnly && before.StripeSubscriptionId == change.SubscriptionId
                && before.SubscriptionExpiresAt is { } current && current > at => current,
            { } at => at,
        };
        var after = before with
        {
            Plan = change.Plan ?? before.Plan,
            SubscriptionStatus = status,
            SubscriptionExpiresAt = expiresAt,
            StripeCustomerId = change.CustomerId ?? before.StripeCustomerId,
            StripeSubscriptionId = change.TakesOver ? change.SubscriptionId ?? before.StripeSubscriptionId : before.StripeSubscriptionId ?? change.SubscriptionId,
        };

        await db.ExecuteAsync(ApplySql, new
        {
            after.Id,
            after.Plan,
            after.SubscriptionStatus,
            after.SubscriptionExpiresAt,
            after.StripeCustomerId,
            after.StripeSubscriptionId,
            EventAt = eventAt,
        }, ct);

        var changes = Changes(before, after);
        if (changes.Count > 0)
        {
            changes["eventId"] = stripeEvent.Id;
            changes["eventType"] = stripeEvent.Type;
            await db.AuditAsync(before.Id, "billing.subscription_update", "clinic", before.Id, changes, ct);
        }

        return ("applied", before.Id);
    }

    private static Dictionary<string, object?> Changes(State before, State after)
    {
        var changes = new Dictionary<string, object?>();
        void Compare<T>(string field, T old, T now)
        {
            if (!EqualityComparer<T>.Default.Equals(old, now))
            {
                changes[field] = new { from = old, to = now };
            }
        }

        Compare("plan", before.Plan, after.Plan);
        Compare("subscriptionStatus", before.SubscriptionStatus, after.SubscriptionStatus);
        Compare("subscriptionExpiresAt", before.SubscriptionExpiresAt, after.SubscriptionExpiresAt);
        Compare("stripeCustomerId", before.StripeCustomerId, after.StripeCustomerId);
        Compare("stripeSubscriptionId", before.StripeSubscriptionId, after.StripeSubscriptionId);
        return changes;
    }

    /// <summary>Stripe's subscription statuses in the clinic's vocabulary; null for states that move nothing yet.</summary>
    private static string? MapStatus(string? status) => status switch
    {
        "active" => "active",
        "trialing" => "trialing",
        "past_due" or "unpaid" => "past_due",
        "canceled" => "canceled",
        _ => null, // incomplete, incomplete_expired, paused: no paid subscription (yet)
    };

    private static string? Meta(Dictionary<string, string>? metadata, string key) =>
        metadata is not null && metadata.TryGetValue(key, out var value) ? value : null;

    private static Guid? ClinicOf(string? value) => Guid.TryParse(value, out var id) ? id : null;

    private static string? Known(string? plan) => plan is not null && ClinicRules.Plans.Contains(plan) ? plan : null;

    private static DateTimeOffset? Utc(DateTime? value) =>
        value is { } v && v > DateTime.UnixEpoch ? new DateTimeOffset(DateTime.SpecifyKind(v, DateTimeKind.Utc)) : null;

    // Since API version 2025-03-31 the period lives on the subscription's items.
    private static DateTimeOffset? PeriodEnd(Subscription sub) =>
        sub.Items?.Data?.Select(i => Utc(i.CurrentPeriodEnd)).Max();

    private static DateTimeOffset? PaidUntil(DateTime created, string? interval) => interval switch
    {
        "year" => Utc(created)?.AddYears(1),
        "month" => Utc(created)?.AddMonths(1),
        _ => null,
    };

    private static string? SubscriptionOf(Invoice invoice) => invoice.Parent?.SubscriptionDetails?.SubscriptionId;

    /// <summary>outcome: applied, stale (older than what the clinic already shows), ignored (nothing to do), duplicate.</summary>
    public sealed record Response(string Id, string Type, string Outcome);
}
