using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Billing;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Billing;

public sealed class CreatePortalSessionTests(AppFixture app) : BillingTest(app)
{
    private Task<IScenarioResult> PostAsync(Account caller, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Post.Json(new { }).ToUrl("/api/billing/portal");
            s.WithBearerToken(caller.Token);
            s.StatusCodeShouldBe(expected);
        });

    [Fact]
    public async Task Opens_the_portal_for_the_clinics_customer()
    {
        var admin = await RegisterClinicAsync();
        var customer = NewId("cus");
        await LinkAsync(admin.ClinicId, customer, NewId("sub"));

        var portal = await (await PostAsync(admin, HttpStatusCode.OK)).ReadAsJsonAsync<CreatePortalSession.Response>();

        Assert.StartsWith("https://billing.stripe.com/p/session/", portal.Url, StringComparison.Ordinal);
        var call = Assert.Single(App.Stripe.RequestsTo("/v1/billing_portal/sessions", "customer", customer));
        Assert.Equal(AppFixture.PublicBaseUrl + "/billing", call.Form["return_url"]);
        Assert.Equal("Bearer " + StripeFake.SecretKey, call.Authorization);
        Assert.NotNull(await LastAuditAsync(admin.ClinicId!.Value, "billing.portal_open"));
    }

    [Fact]
    public async Task Answers_409_before_the_first_checkout()
    {
        var admin = await RegisterClinicAsync();

        await ErrorAsync(await PostAsync(admin, HttpStatusCode.Conflict), ErrorCodes.InvalidState);

        Assert.Null(await LastAuditAsync(admin.ClinicId!.Value, "billing.portal_open"));
    }

    [Fact]
    public async Task Stays_open_when_the_subscription_expired()
    {
        var admin = await RegisterClinicAsync();
        await LinkAsync(admin.ClinicId, NewId("cus"), NewId("sub"));
        await App.ExecuteAsync("update clinics set subscription_status = 'expired' where id = @ClinicId", new { admin.ClinicId });

        await PostAsync(admin, HttpStatusCode.OK);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Post.Json(new { }).ToUrl("/api/billing/portal"));
    }

    [Theory]
    [InlineData("doctor")]
    [InlineData("staff")]
    public async Task Refuses_non_admins(string role)
    {
        await AssertRefusedForRoleAsync(role, s => s.Post.Json(new { }).ToUrl("/api/billing/portal"));
    }
}
