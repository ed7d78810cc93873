using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Dental;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Dental;

/// <summary>GET /api/dental/payment-plans/{id} (<see cref="GetPaymentPlan"/>).</summary>
public sealed class GetPaymentPlanTests(AppFixture app) : ClinicalTest(app)
{
    [Fact]
    public async Task Marks_installments_paid_due_or_overdue_by_the_clinics_local_date()
    {
        // UTC+14: the clinic's date is often a day ahead of UTC, so "today" must be the clinic's.
        const string zone = "Pacific/Kiritimati";
        var admin = await RegisterClinicInZoneAsync(zone);
        var staff = await AddUserAsync(admin, "staff");
        var today = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(DateTimeOffset.UtcNow, TimeZoneInfo.FindSystemTimeZoneById(zone)).DateTime);
        var plan = await AcceptedPlanAsync(admin, await CreatePatientAsync(admin), 30_000);
        var created = await PaymentSteps.CreateAsync(Host, admin, plan.Id, 3, today.AddDays(-2), intervalDays: 1);
        await App.ExecuteAsync("update payment_installments set paid_cents = amount_cents where payment_plan_id = @Id and number = 1", new { created.Id });
        await App.ExecuteAsync("update payment_plans set paid_cents = 10000 where id = @Id", new { created.Id });

        var result = await Host.Scenario(s =>
        {
            s.Get.Url($"/api/dental/payment-plans/{created.Id}");
            s.WithBearerToken(staff.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var paymentPlan = await BodyAsync<GetPaymentPlan.Response>(result);
        Assert.Equal(today, paymentPlan.Today);
        Assert.Equal(zone, paymentPlan.Timezone);
        Assert.Equal(["paid", "overdue", "due"], paymentPlan.Installments.Select(i => i.Status));
        Assert.Equal((30_000L, 10_000L, 20_000L, 10_000L), (paymentPlan.TotalCents, paymentPlan.PaidCents, paymentPlan.OutstandingCents, paymentPlan.OverdueCents));
        Assert.Equal(plan.Id, paymentPlan.TreatmentPlanId);
    }

    [Fact]
    public async Task Needs_a_pro_plan()
    {
        await AssertNeedsProPlanAsync((_, _) => s => s.Get.Url($"/api/dental/payment-plans/{Guid.NewGuid()}"));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Get.Url($"/api/dental/payment-plans/{Guid.NewGuid()}"));
    }

    [Fact]
    public async Task Answers_404_for_another_clinics_payment_plan()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync();
        var plan = await AcceptedPlanAsync(other, await CreatePatientAsync(other), 5_000);
        var paymentPlan = await PaymentSteps.CreateAsync(Host, other, plan.Id, 2, new DateOnly(2027, 1, 1));

        var result = await Host.Scenario(s =>
        {
            s.Get.Url($"/api/dental/payment-plans/{paymentPlan.Id}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });

        await ErrorAsync(result, ErrorCodes.NotFound);
    }
}
