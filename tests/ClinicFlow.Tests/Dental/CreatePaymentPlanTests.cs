using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Dental;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Dental;

/// <summary>POST /api/dental/treatment-plans/{id}/payment-plan (<see cref="CreatePaymentPlan"/>).</summary>
public sealed class CreatePaymentPlanTests(AppFixture app) : ClinicalTest(app)
{
    [Theory]
    [InlineData(100_000L, 3, new long[] { 33_334, 33_333, 33_333 })]
    [InlineData(1L, 2, new long[] { 1, 0 })]
    [InlineData(10L, 4, new long[] { 3, 3, 2, 2 })]
    [InlineData(99_999L, 1, new long[] { 99_999 })]
    public async Task Splits_the_total_exactly_with_the_remainder_on_the_first_installments(long total, int count, long[] expected)
    {
        var admin = await RegisterClinicAsync();
        var staff = await AddUserAsync(admin, "staff");
        var plan = await AcceptedPlanAsync(admin, await CreatePatientAsync(admin), total);

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new { installments = count, intervalDays = 30, firstDueDate = "2027-01-31" }).ToUrl($"/api/dental/treatment-plans/{plan.Id}/payment-plan");
            s.WithBearerToken(staff.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });

        var paymentPlan = await BodyAsync<CreatePaymentPlan.Response>(result);
        Assert.Equal(expected, paymentPlan.Installments.Select(i => i.AmountCents));
        Assert.Equal(total, paymentPlan.Installments.Sum(i => i.AmountCents));
        Assert.Equal((total, 0L, total), (paymentPlan.TotalCents, paymentPlan.PaidCents, paymentPlan.OutstandingCents));
        Assert.Equal(new DateOnly(2027, 1, 31).AddDays(30 * (count - 1)), paymentPlan.Installments[^1].DueDate);
        Assert.All(paymentPlan.Installments, i => Assert.Equal(i.AmountCents == 0 ? "paid" : "due", i.Status));
        Assert.Equal(total, await App.ScalarAsync<long>("select sum(amount_cents)::bigint from payment_installments where payment_plan_id = @Id", new { paymentPlan.Id }));
        Assert.Equal(paymentPlan.Id.ToString(), (await LastAuditAsync(admin.ClinicId!.Value, "payment_plan.create"))!.EntityId);
    }

    [Fact]
    public async Task Allows_one_payment_plan_per_treatment_plan()
    {
        var admin = await RegisterClinicAsync();
        var plan = await AcceptedPlanAsync(admin, await CreatePatientAsync(admin), 5_000);
        await PostAsync(admin, plan.Id, HttpStatusCode.Created);

        var result = await PostAsync(admin, plan.Id, HttpStatusCode.Conflict);

        await ErrorAsync(result, ErrorCodes.AlreadyExists);
        Assert.Equal(1, await App.ScalarAsync<int>("select count(*)::int from payment_plans where treatment_plan_id = @Id", new { plan.Id }));
    }

    [Fact]
    public async Task Refuses_a_plan_not_yet_accepted_and_locks_the_items_of_one_with_a_payment_plan()
    {
        var admin = await RegisterClinicAsync();
        var patient = await CreatePatientAsync(admin);
        var draft = await CreatePlanAsync(admin, patient);
        await ErrorAsync(await PostAsync(admin, draft.Id, HttpStatusCode.Conflict), ErrorCodes.InvalidState);

        var accepted = await AcceptedPlanAsync(admin, patient, 5_000);
        await PostAsync(admin, accepted.Id, HttpStatusCode.Created);
        var result = await Host.Scenario(s =>
        {
            s.Patch.Json(new { items = Items(1) }).ToUrl($"/api/treatment-plans/{accepted.Id}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Conflict);
        });
        await ErrorAsync(result, ErrorCodes.Conflict);
    }

    [Fact]
    public async Task Needs_a_pro_plan()
    {
        await AssertNeedsProPlanAsync((_, _) => s =>
            s.Post.Json(new { installments = 2, intervalDays = 30, firstDueDate = "2027-01-01" }).ToUrl($"/api/dental/treatment-plans/{Guid.NewGuid()}/payment-plan"));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s =>
            s.Post.Json(new { installments = 2, intervalDays = 30, firstDueDate = "2027-01-01" }).ToUrl($"/api/dental/treatment-plans/{Guid.NewGuid()}/payment-plan"));
    }

    [Fact]
    public async Task Answers_404_for_another_clinics_plan()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync();
        var plan = await AcceptedPlanAsync(other, await CreatePatientAsync(other), 5_000);

        await ErrorAsync(await PostAsync(admin, plan.Id, HttpStatusCode.NotFound), ErrorCodes.NotFound);
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from payment_plans where treatment_plan_id = @Id", new { plan.Id }));
    }

    [Fact]
    public async Task Rejects_bad_input_with_details()
    {
        var admin = await RegisterClinicAsync();

        var error = await AssertInvalidAsync("installments", s =>
        {
            s.Post.Json(new { installments = 0, intervalDays = 0 }).ToUrl($"/api/dental/treatment-plans/{Guid.NewGuid()}/payment-plan");
            s.WithBearerToken(admin.Token);
        });
        Assert.Contains("intervalDays", error.Details!.Keys);
        Assert.Contains("firstDueDate", error.Details.Keys);
    }

    private Task<IScenarioResult> PostAsync(Account account, Guid planId, HttpStatusCode expected) => Host.Scenario(s =>
    {
        s.Post.Json(new { installments = 2, intervalDays = 30, firstDueDate = "2027-01-01" }).ToUrl($"/api/dental/treatment-plans/{planId}/payment-plan");
        s.WithBearerToken(account.Token);
        s.StatusCodeShouldBe(expected);
    });
}
