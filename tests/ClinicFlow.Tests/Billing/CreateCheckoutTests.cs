using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Billing;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Billing;

public sealed class CreateCheckoutTests(AppFixture app) : BillingTest(app)
{
    private Task<IScenarioResult> PostAsync(Account caller, object body, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Post.Json(body).ToUrl("/api/billing/checkout");
            s.WithBearerToken(caller.Token);
            s.StatusCodeShouldBe(expected);
        });

    [Fact]
    public async Task Creates_a_subscription_checkout_for_the_configured_price_and_a_new_customer()
    {
        var admin = await RegisterClinicAsync("Clínica Pago");
        var clinicId = admin.ClinicId!.Value.ToString();

        var result = await PostAsync(admin, new CreateCheckout.Request("pro", "year"), HttpStatusCode.OK);

        var checkout = await result.ReadAsJsonAsync<CreateCheckout.Response>();
        Assert.StartsWith("https://checkout.stripe.com/c/pay/cs_test_", checkout.Url, StringComparison.Ordinal);
        var customerCall = Assert.Single(App.Stripe.RequestsTo("/v1/customers", "metadata[clinicId]", clinicId));
        Assert.Equal(admin.Email, customerCall.Form["email"]);
        Assert.Equal("Clínica Pago", customerCall.Form["name"]);
        Assert.Equal("clinicflow-customer-" + clinicId, customerCall.IdempotencyKey);
        Assert.Equal("Bearer " + StripeFake.SecretKey, customerCall.Authorization);
        Assert.StartsWith(StripeSetup.ApiVersion, customerCall.StripeVersion, StringComparison.Ordinal);

        var session = Assert.Single(App.Stripe.RequestsTo("/v1/checkout/sessions", "client_reference_id", clinicId)).Form;
        var customerId = await App.ScalarAsync<string>("select stripe_customer_id from clinics where id = @ClinicId", new { admin.ClinicId });
        Assert.Equal("subscription", session["mode"]);
        Assert.Equal(customerId, session["customer"]);
        Assert.Equal("price_pro_year", session["line_items[0][price]"]);
        Assert.Equal("1", session["line_items[0][quantity]"]);
        Assert.Equal(clinicId, session["metadata[clinicId]"]);
        Assert.Equal("pro", session["metadata[plan]"]);
        Assert.Equal("year", session["metadata[interval]"]);
        Assert.Equal(clinicId, session["subscription_data[metadata][clinicId]"]);
        Assert.Equal(AppFixture.PublicBaseUrl + "/billing/success?session_id={CHECKOUT_SESSION_ID}", session["success_url"]);
        Assert.Equal(AppFixture.PublicBaseUrl + "/billing/cancel", session["cancel_url"]);

        // Nothing moves before Stripe says the payment went through.
        var billing = await BillingAsync(admin.ClinicId);
        Assert.Equal(("pro", "trialing"), (billing.Plan, billing.SubscriptionStatus));
        var audit = await LastAuditAsync(admin.ClinicId.Value, "billing.checkout");
        Assert.NotNull(audit);
        Assert.Equal(checkout.SessionId, System.Text.Json.JsonDocument.Parse(audit.Changes).RootElement.GetProperty("sessionId").GetString());
        Assert.NotNull(await LastAuditAsync(admin.ClinicId.Value, "billing.customer_create"));
    }

    [Fact]
    public async Task Reuses_the_clinics_customer_on_the_next_checkout()
    {
        var admin = await RegisterClinicAsync();
        var clinicId = admin.ClinicId!.Value.ToString();
        await PostAsync(admin, new CreateCheckout.Request("pro", "month"), HttpStatusCode.OK);

        await PostAsync(admin, new CreateCheckout.Request("enterprise", "year"), HttpStatusCode.OK);

        Assert.Single(App.Stripe.RequestsTo("/v1/customers", "metadata[clinicId]", clinicId));
        var sessions = App.Stripe.RequestsTo("/v1/checkout/sessions", "client_reference_id", clinicId);
        Assert.Equal(2, sessions.Count);
        Assert.Single(sessions.Select(s => s.Form["customer"]).Distinct());
        Assert.Contains(sessions, s => s.Form["line_items[0][price]"] == "price_enterprise_year");
    }

    [Fact]
    public async Task Stays_open_when_the_subscription_expired()
    {
        var admin = await RegisterClinicAsync();
        await App.ExecuteAsync("update clinics set subscription_expires_at = now() - interval '1 day' where id = @ClinicId", new { admin.ClinicId });

        await PostAsync(admin, new CreateCheckout.Request("basic", "month"), HttpStatusCode.OK);
    }

    [Fact]
    public async Task Refuses_a_plan_not_offered_with_that_interval()
    {
        var admin = await RegisterClinicAsync();

        var error = await ErrorAsync(await PostAsync(admin, new CreateCheckout.Request("basic", "year"), HttpStatusCode.BadRequest),
            ErrorCodes.ValidationError);

        Assert.Contains("plan", error.Details!.Keys);
        Assert.Empty(App.Stripe.RequestsTo("/v1/customers", "metadata[clinicId]", admin.ClinicId!.Value.ToString()));
    }

    [Fact]
    public async Task Answers_503_when_stripe_cannot_be_reached_and_changes_nothing()
    {
        var isolated = await App.StartIsolatedAsync(new Dictionary<string, string?> { ["Stripe:ApiBase"] = "http://127.0.0.1:9" });
        var admin = await RegisterClinicAsync(host: isolated.Host);

        var result = await isolated.Host.Scenario(s =>
        {
            s.Post.Json(new CreateCheckout.Request("pro", "month")).ToUrl("/api/billing/checkout");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.ServiceUnavailable);
        });

        await ErrorAsync(result, ErrorCodes.ServiceUnavailable);
        await using var connection = new Npgsql.NpgsqlConnection(isolated.AdminConnectionString);
        Assert.Equal(1L, await Dapper.SqlMapper.ExecuteScalarAsync<long>(connection,
            "select count(*) from clinics where id = @ClinicId and stripe_customer_id is null and plan = 'pro'", new { admin.ClinicId }));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Post.Json(new CreateCheckout.Request("pro", "month")).ToUrl("/api/billing/checkout"));
    }

    [Theory]
    [InlineData("doctor")]
    [InlineData("staff")]
    public async Task Refuses_non_admins(string role)
    {
        await AssertRefusedForRoleAsync(role, s => s.Post.Json(new CreateCheckout.Request("pro", "month")).ToUrl("/api/billing/checkout"));
    }

    [Fact]
    public async Task Rejects_bad_input_with_details()
    {
        var admin = await RegisterClinicAsync();

        var error = await ErrorAsync(await PostAsync(admin, new { plan = "gold", interval = "week" }, HttpStatusCode.BadRequest),
            ErrorCodes.ValidationError);

        Assert.Contains("plan", error.Details!.Keys);
        Assert.Contains("interval", error.Details.Keys);
    }
}
