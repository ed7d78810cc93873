using System.Net;
using System.Text.Json;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Billing;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Billing;

public sealed class HandleStripeWebhookTests(AppFixture app) : BillingTest(app)
{
    private static async Task<HandleStripeWebhook.Response> OutcomeAsync(IScenarioResult result) =>
        await result.ReadAsJsonAsync<HandleStripeWebhook.Response>();

    private Task<int> AuditCountAsync(Guid? clinicId) =>
        App.ScalarAsync<int>("select count(*)::int from audit_log where clinic_id = @clinicId and action = 'billing.subscription_update'",
            new { clinicId });

    [Fact]
    public async Task A_completed_checkout_moves_the_plan_and_links_the_customer_and_audits_it()
    {
        var admin = await RegisterClinicAsync();
        var (customer, subscription) = (NewId("cus"), NewId("sub"));
        var created = DateTimeOffset.UtcNow;
        var payload = Event(NewId("evt"), "checkout.session.completed", created,
            CheckoutSession(admin.ClinicId!.Value, customer, subscription, "enterprise", "year"));

        var outcome = await OutcomeAsync(await DeliverAsync(payload, HttpStatusCode.OK));

        Assert.Equal("applied", outcome.Outcome);
        Assert.Equal("checkout.session.completed", outcome.Type);
        var billing = await BillingAsync(admin.ClinicId);
        Assert.Equal(("enterprise", "active", customer, subscription),
            (billing.Plan, billing.SubscriptionStatus, billing.StripeCustomerId, billing.StripeSubscriptionId));
        Assert.InRange(billing.SubscriptionExpiresAt!.Value, created.AddYears(1).AddSeconds(-2), created.AddYears(1).AddSeconds(2));
        var audit = await LastAuditAsync(admin.ClinicId.Value, "billing.subscription_update");
        Assert.NotNull(audit);
        Assert.Equal("system", audit.ActorType);
        using var changes = JsonDocument.Parse(audit.Changes);
        Assert.Equal("enterprise", changes.RootElement.GetProperty("plan").GetProperty("to").GetString());
        Assert.Equal("trialing", changes.RootElement.GetProperty("subscriptionStatus").GetProperty("from").GetString());
        Assert.Equal("checkout.session.completed", changes.RootElement.GetProperty("eventType").GetString());
        Assert.Equal("applied", await App.ScalarAsync<string>("select outcome from stripe_events where id = @Id", new { outcome.Id }));
    }

    [Fact]
    public async Task Subscription_updates_move_plan_status_and_period_end_by_price()
    {
        var admin = await RegisterClinicAsync();
        var (customer, subscription) = (NewId("cus"), NewId("sub"));
        await LinkAsync(admin.ClinicId, customer, subscription);
        var periodEnd = DateTimeOffset.FromUnixTimeSeconds(Unix(DateTimeOffset.UtcNow.AddDays(30)));

        await DeliverAsync(Event(NewId("evt"), "customer.subscription.updated", DateTimeOffset.UtcNow,
            Subscription(subscription, customer, null, "active", "price_basic_month", periodEnd)), HttpStatusCode.OK);

        Assert.Equal(new ClinicBilling("basic", "active", periodEnd, customer, subscription), await BillingAsync(admin.ClinicId));
    }

    [Fact]
    public async Task A_payment_failure_makes_it_past_due_and_a_paid_invoice_active_again()
    {
        var admin = await RegisterClinicAsync();
        var (customer, subscription) = (NewId("cus"), NewId("sub"));
        await LinkAsync(admin.ClinicId, customer, subscription);
        var now = DateTimeOffset.UtcNow;
        var nextEnd = DateTimeOffset.FromUnixTimeSeconds(Unix(now.AddDays(40)));

        await DeliverAsync(Event(NewId("evt"), "invoice.payment_failed", now.AddSeconds(-10), Invoice(customer, subscription, nextEnd, "open")),
            HttpStatusCode.OK);
        Assert.Equal("past_due", (await BillingAsync(admin.ClinicId)).SubscriptionStatus);

        await DeliverAsync(Event(NewId("evt"), "invoice.paid", now, Invoice(customer, subscription, nextEnd, "paid")), HttpStatusCode.OK);
        var billing = await BillingAsync(admin.ClinicId);
        Assert.Equal(("active", nextEnd), (billing.SubscriptionStatus, billing.SubscriptionExpiresAt));
    }

    [Fact]
    public async Task A_deleted_subscription_ends_access_but_billing_stays_open()
    {
        var admin = await RegisterClinicAsync();
        var (customer, subscription) = (NewId("cus"), NewId("sub"));
        await LinkAsync(admin.ClinicId, customer, subscription);
        var ended = DateTimeOffset.UtcNow.AddMinutes(-1);

        await DeliverAsync(Event(NewId("evt"), "customer.subscription.deleted", DateTimeOffset.UtcNow,
            Subscription(subscription, customer, admin.ClinicId, "canceled", "price_pro_month", DateTimeOffset.UtcNow.AddDays(3), ended)),
            HttpStatusCode.OK);

        var billing = await BillingAsync(admin.ClinicId);
        Assert.Equal(("canceled", DateTimeOffset.FromUnixTimeSeconds(Unix(ended))), (billing.SubscriptionStatus, billing.SubscriptionExpiresAt));
        await Host.Scenario(s =>
        {
            s.Get.Url("/api/users");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.PaymentRequired);
        });
        await Host.Scenario(s =>
        {
            s.Get.Url("/api/billing/subscription");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
    }

    [Fact]
    public async Task Out_of_order_updates_never_move_the_subscription_backwards()
    {
        var admin = await RegisterClinicAsync();
        var (customer, subscription) = (NewId("cus"), NewId("sub"));
        await LinkAsync(admin.ClinicId, customer, subscription);
        var now = DateTimeOffset.UtcNow;
        var laterEnd = DateTimeOffset.FromUnixTimeSeconds(Unix(now.AddDays(60)));
        var newer = Event(NewId("evt"), "customer.subscription.updated", now,
            Subscription(subscription, customer, admin.ClinicId, "active", "price_pro_year", laterEnd));
        var older = Event(NewId("evt"), "customer.subscription.updated", now.AddMinutes(-5),
            Subscription(subscription, customer, admin.ClinicId, "past_due", "price_basic_month", now.AddDays(2)));
        var olderFailure = Event(NewId("evt"), "invoice.payment_failed", now.AddMinutes(-4), Invoice(customer, subscription, now.AddDays(2), "open"));

        Assert.Equal("applied", (await OutcomeAsync(await DeliverAsync(newer, HttpStatusCode.OK))).Outcome);
        Assert.Equal("stale", (await OutcomeAsync(await DeliverAsync(older, HttpStatusCode.OK))).Outcome);
        Assert.Equal("stale", (await OutcomeAsync(await DeliverAsync(olderFailure, HttpStatusCode.OK))).Outcome);

        Assert.Equal(new ClinicBilling("pro", "active", laterEnd, customer, subscription), await BillingAsync(admin.ClinicId));
        Assert.Equal(1, await AuditCountAsync(admin.ClinicId));
    }

    [Fact]
    public async Task A_replayed_event_is_handled_once()
    {
        var admin = await RegisterClinicAsync();
        var (customer, subscription) = (NewId("cus"), NewId("sub"));
        var payload = Event(NewId("evt"), "checkout.session.completed", DateTimeOffset.UtcNow,
            CheckoutSession(admin.ClinicId!.Value, customer, subscription, "pro", "month"));

        await DeliverAsync(payload, HttpStatusCode.OK);
        var second = await OutcomeAsync(await DeliverAsync(payload, HttpStatusCode.OK));

        Assert.Equal("duplicate", second.Outcome);
        Assert.Equal(1, await AuditCountAsync(admin.ClinicId));
        Assert.Equal(1, await App.ScalarAsync<int>("select count(*)::int from stripe_events where id = @Id", new { second.Id }));
    }

    [Fact]
    public async Task Two_deliveries_of_one_event_at_the_same_moment_act_once()
    {
        var admin = await RegisterClinicAsync();
        var (customer, subscription) = (NewId("cus"), NewId("sub"));
        var payload = Event(NewId("evt"), "checkout.session.completed", DateTimeOffset.UtcNow,
            CheckoutSession(admin.ClinicId!.Value, customer, subscription, "pro", "month"));
        var signature = StripeFake.Sign(payload, StripeFake.WebhookSecret, DateTimeOffset.UtcNow);

        var results = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => DeliverAsync(payload, HttpStatusCode.OK, signature)));

        var outcomes = await Task.WhenAll(results.Select(OutcomeAsync));
        Assert.Equal(["applied", "duplicate"], outcomes.Select(o => o.Outcome).Order());
        Assert.Equal(1, await AuditCountAsync(admin.ClinicId));
    }

    [Fact]
    public async Task Refuses_a_signature_made_with_another_secret()
    {
        var admin = await RegisterClinicAsync();
        var payload = Event(NewId("evt"), "checkout.session.completed", DateTimeOffset.UtcNow,
            CheckoutSession(admin.ClinicId!.Value, NewId("cus"), NewId("sub"), "enterprise", "year"));

        var result = await DeliverAsync(payload, HttpStatusCode.BadRequest,
            StripeFake.Sign(payload, "whsec_someone_else_entirely", DateTimeOffset.UtcNow));

        await ErrorAsync(result, ErrorCodes.InvalidSignature);
        Assert.Equal("trialing", (await BillingAsync(admin.ClinicId)).SubscriptionStatus);
        Assert.Equal("pro", (await BillingAsync(admin.ClinicId)).Plan);
    }

    [Fact]
    public async Task Refuses_a_stale_timestamp_a_tampered_body_and_a_missing_signature()
    {
        var admin = await RegisterClinicAsync();
        var payload = Event(NewId("evt"), "checkout.session.completed", DateTimeOffset.UtcNow,
            CheckoutSession(admin.ClinicId!.Value, NewId("cus"), NewId("sub"), "enterprise", "year"));

        await ErrorAsync(await DeliverAsync(payload, HttpStatusCode.BadRequest,
            StripeFake.Sign(payload, StripeFake.WebhookSecret, DateTimeOffset.UtcNow.AddSeconds(-301))), ErrorCodes.InvalidSignature);
        var signed = StripeFake.Sign(payload, StripeFake.WebhookSecret, DateTimeOffset.UtcNow);
        await ErrorAsync(await DeliverAsync(payload.Replace("enterprise", "basic", StringComparison.Ordinal), HttpStatusCode.BadRequest, signed),
            ErrorCodes.InvalidSignature);
        var missing = await Host.Scenario(s =>
        {
            s.Post.Text(payload).ToUrl("/api/billing/webhook");
            s.WithRequestHeader("Content-Type", "application/json");
            s.StatusCodeShouldBe(HttpStatusCode.BadRequest);
        });
        await ErrorAsync(missing, ErrorCodes.InvalidSignature);

        Assert.Equal("pro", (await BillingAsync(admin.ClinicId)).Plan);
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from stripe_events where clinic_id = @ClinicId", new { admin.ClinicId }));
    }

    [Fact]
    public async Task Acknowledges_and_ignores_unknown_types_and_other_customers_subscriptions()
    {
        var admin = await RegisterClinicAsync();
        var (customer, subscription) = (NewId("cus"), NewId("sub"));
        await LinkAsync(admin.ClinicId, customer, subscription);

        var unknown = await OutcomeAsync(await DeliverAsync(
            Event(NewId("evt"), "customer.created", DateTimeOffset.UtcNow, new { id = customer, @object = "customer" }), HttpStatusCode.OK));
        var foreign = await OutcomeAsync(await DeliverAsync(Event(NewId("evt"), "customer.subscription.updated", DateTimeOffset.UtcNow,
            Subscription(NewId("sub"), NewId("cus"), admin.ClinicId, "canceled", "price_basic_month", DateTimeOffset.UtcNow)), HttpStatusCode.OK));

        Assert.Equal(("ignored", "ignored"), (unknown.Outcome, foreign.Outcome));
        Assert.Equal(new ClinicBilling("pro", "trialing", (await BillingAsync(admin.ClinicId)).SubscriptionExpiresAt, customer, subscription),
            await BillingAsync(admin.ClinicId));
        Assert.Equal(0, await AuditCountAsync(admin.ClinicId));
    }
}
