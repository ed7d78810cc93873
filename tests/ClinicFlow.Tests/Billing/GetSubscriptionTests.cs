using System.Net;
using ClinicFlow.Slices.Billing;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Billing;

public sealed class GetSubscriptionTests(AppFixture app) : BillingTest(app)
{
    private Task<IScenarioResult> GetAsync(Account caller, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Get.Url("/api/billing/subscription");
            s.WithBearerToken(caller.Token);
            s.StatusCodeShouldBe(expected);
        });

    [Fact]
    public async Task Shows_plan_status_period_end_limits_and_usage_counting_open_invites()
    {
        var admin = await RegisterClinicAsync();
        await AddUserAsync(admin, "staff");
        await Host.Scenario(s =>
        {
            s.Post.Json(new { email = NewEmail("pending"), role = "doctor" }).ToUrl("/api/team/invite");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        await App.ExecuteAsync("insert into doctors (id, clinic_id, full_name) values (@Id, @ClinicId, 'Dr. Uno')",
            new { Id = Guid.CreateVersion7(), admin.ClinicId });

        var subscription = await (await GetAsync(admin, HttpStatusCode.OK)).ReadAsJsonAsync<GetSubscription.Response>();

        var stored = await BillingAsync(admin.ClinicId);
        Assert.Equal("pro", subscription.Plan);
        Assert.Equal("trialing", subscription.Status);
        Assert.Equal(stored.SubscriptionExpiresAt!.Value, subscription.CurrentPeriodEnd!.Value, TimeSpan.FromMilliseconds(1));
        Assert.False(subscription.HasBillingAccount);
        Assert.Equal(new GetSubscription.Limits(10, 25), subscription.Limits);
        Assert.Equal(new GetSubscription.Usage(2, 1, 3, 1), subscription.Usage);
    }

    [Fact]
    public async Task Answers_an_expired_clinic_with_status_expired_and_the_override()
    {
        var admin = await RegisterClinicAsync();
        await App.ExecuteAsync("""
            update clinics set plan = 'basic', subscription_status = 'active', subscription_expires_at = now() - interval '1 hour',
                   max_users_override = 8, stripe_customer_id = @Customer
            where id = @ClinicId
            """, new { admin.ClinicId, Customer = NewId("cus") });

        var subscription = await (await GetAsync(admin, HttpStatusCode.OK)).ReadAsJsonAsync<GetSubscription.Response>();

        Assert.Equal(("basic", "expired", true), (subscription.Plan, subscription.Status, subscription.HasBillingAccount));
        Assert.Equal(new GetSubscription.Limits(2, 8), subscription.Limits);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Get.Url("/api/billing/subscription"));
    }

    [Theory]
    [InlineData("doctor")]
    [InlineData("staff")]
    public async Task Refuses_non_admins(string role)
    {
        await AssertRefusedForRoleAsync(role, s => s.Get.Url("/api/billing/subscription"));
    }
}
