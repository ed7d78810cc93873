using System.Net;
using System.Text.Json;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Billing;

/// <summary>
/// Base of the billing tests: Stripe events as Stripe sends them (JSON at the service's pinned API
/// version), signed with the real <c>t=…,v1=…</c> scheme, and the clinic's billing state as stored.
/// </summary>
public abstract class BillingTest(AppFixture app) : ApiTest(app)
{
    public sealed record ClinicBilling(string Plan, string SubscriptionStatus, DateTimeOffset? SubscriptionExpiresAt,
        string? StripeCustomerId, string? StripeSubscriptionId);

    protected async Task<ClinicBilling> BillingAsync(Guid? clinicId) =>
        (await App.QueryAsync<ClinicBilling>("""
            select plan, subscription_status, subscription_expires_at, stripe_customer_id, stripe_subscription_id
            from clinics where id = @clinicId
            """, new { clinicId })).Single();

    protected static string NewId(string prefix) => prefix + "_" + Guid.NewGuid().ToString("N")[..20];

    protected static long Unix(DateTimeOffset at) => at.ToUnixTimeSeconds();

    /// <summary>Posts a webhook; signs it now with the endpoint's secret unless a signature is given.</summary>
    protected Task<IScenarioResult> DeliverAsync(string payload, HttpStatusCode expected, string? signature = null) =>
        Host.Scenario(s =>
        {
            s.Post.Text(payload).ToUrl("/api/billing/webhook");
            s.WithRequestHeader("Content-Type", "application/json; charset=utf-8");
            s.WithRequestHeader("Stripe-Signature", signature ?? StripeFake.Sign(payload, StripeFake.WebhookSecret, DateTimeOffset.UtcNow));
            s.StatusCodeShouldBe(expected);
        });

    protected static string Event(string id, string type, DateTimeOffset created, object dataObject) =>
        JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["id"] = id,
            ["object"] = "event",
            ["api_version"] = Infrastructure.StripeSetup.ApiVersion,
            ["created"] = Unix(created),
            ["data"] = new { @object = dataObject },
            ["livemode"] = false,
            ["pending_webhooks"] = 1,
            ["request"] = new { id = (string?)null, idempotency_key = (string?)null },
            ["type"] = type,
        });

    protected static object Subscription(string id, string customer, Guid? clinicId, string status, string price, DateTimeOffset periodEnd,
        DateTimeOffset? endedAt = null) => new Dictionary<string, object?>
        {
            ["id"] = id,
            ["object"] = "subscription",
            ["customer"] = customer,
            ["status"] = status,
            ["cancel_at_period_end"] = false,
            ["created"] = Unix(periodEnd.AddMonths(-1)),
            ["ended_at"] = endedAt is { } e ? Unix(e) : null,
            ["livemode"] = false,
            ["metadata"] = clinicId is { } c ? new Dictionary<string, string> { ["clinicId"] = c.ToString() } : new Dictionary<string, string>(),
            ["items"] = new
            {
                @object = "list",
                data = new[]
                {
                    new Dictionary<string, object?>
                    {
                        ["id"] = NewId("si"),
                        ["object"] = "subscription_item",
                        ["current_period_start"] = Unix(periodEnd.AddMonths(-1)),
                        ["current_period_end"] = Unix(periodEnd),
                        ["quantity"] = 1,
                        ["price"] = new { id = price, @object = "price", active = true, currency = "eur", unit_amount = 4900, type = "recurring" },
                    },
                },
                has_more = false,
                url = "/v1/subscription_items?subscription=" + id,
            },
        };

    protected static object CheckoutSession(Guid clinicId, string customer, string subscription, string plan, string interval,
        string paymentStatus = "paid") => new Dictionary<string, object?>
        {
            ["id"] = NewId("cs_test"),
            ["object"] = "checkout.session",
            ["mode"] = "subscription",
            ["status"] = "complete",
            ["payment_status"] = paymentStatus,
            ["client_reference_id"] = clinicId.ToString(),
            ["customer"] = customer,
            ["subscription"] = subscription,
            ["livemode"] = false,
            ["metadata"] = new Dictionary<string, string> { ["clinicId"] = clinicId.ToString(), ["plan"] = plan, ["interval"] = interval },
        };

    protected static object Invoice(string customer, string subscription, DateTimeOffset periodEnd, string status) => new Dictionary<string, object?>
    {
        ["id"] = NewId("in"),
        ["object"] = "invoice",
        ["customer"] = customer,
        ["status"] = status,
        ["livemode"] = false,
        ["parent"] = new
        {
            type = "subscription_details",
            subscription_details = new { subscription, metadata = new Dictionary<string, string>() },
        },
        ["lines"] = new
        {
            @object = "list",
            data = new[]
            {
                new { id = NewId("il"), @object = "line_item", period = new { start = Unix(periodEnd.AddMonths(-1)), end = Unix(periodEnd) } },
            },
            has_more = false,
            url = "/v1/invoices/lines",
        },
    };

    /// <summary>Links a customer and subscription to the clinic as a completed checkout would have.</summary>
    protected Task LinkAsync(Guid? clinicId, string customer, string subscription, DateTimeOffset? eventAt = null) =>
        App.ExecuteAsync("""
            update clinics set stripe_customer_id = @customer, stripe_subscription_id = @subscription, stripe_event_at = @eventAt
            where id = @clinicId
            """, new { clinicId, customer, subscription, eventAt });
}
