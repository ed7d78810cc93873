using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Dental;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Dental;

/// <summary>POST /api/dental/payment-plans/{id}/payments (<see cref="RecordPayment"/>).</summary>
public sealed class RecordPaymentTests(AppFixture app) : ClinicalTest(app)
{
    [Fact]
    public async Task Applies_payments_to_the_installments_in_order_and_audits_them()
    {
        var admin = await RegisterClinicAsync();
        var staff = await AddUserAsync(admin, "staff");
        var plan = await AcceptedPlanAsync(admin, await CreatePatientAsync(admin), 100_000);
        var paymentPlan = await PaymentSteps.CreateAsync(Host, admin, plan.Id, 3, new DateOnly(2027, 1, 1));

        var first = await PayAsync(staff, paymentPlan.Id, 50_000, HttpStatusCode.Created);
        var payment = await BodyAsync<RecordPayment.Response>(first);

        Assert.Equal((50_000L, 50_000L, "card"), (payment.PlanPaidCents, payment.PlanOutstandingCents, payment.Method));
        Assert.Equal([33_334L, 16_666L, 0L], await App.QueryAsync<long>(
            "select paid_cents from payment_installments where payment_plan_id = @Id order by number", new { paymentPlan.Id }));
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "payment.create");
        Assert.Equal((paymentPlan.Id.ToString(), staff.UserId), (audit!.EntityId, audit.ActorId));

        await ErrorAsync(await PayAsync(staff, paymentPlan.Id, 50_001, HttpStatusCode.Conflict), ErrorCodes.Conflict);
        await PayAsync(staff, paymentPlan.Id, 50_000, HttpStatusCode.Created);

        Assert.Equal([33_334L, 33_333L, 33_333L], await App.QueryAsync<long>(
            "select paid_cents from payment_installments where payment_plan_id = @Id order by number", new { paymentPlan.Id }));
        Assert.Equal(100_000L, await App.ScalarAsync<long>("select paid_cents from payment_plans where id = @Id", new { paymentPlan.Id }));
        await ErrorAsync(await PayAsync(staff, paymentPlan.Id, 1, HttpStatusCode.Conflict), ErrorCodes.Conflict);
        Assert.Equal(2, await App.ScalarAsync<int>("select count(*)::int from payments where payment_plan_id = @Id", new { paymentPlan.Id }));
    }

    [Fact]
    public async Task Never_lets_concurrent_payments_exceed_the_total()
    {
        var admin = await RegisterClinicAsync();
        var plan = await AcceptedPlanAsync(admin, await CreatePatientAsync(admin), 10_000);
        var paymentPlan = await PaymentSteps.CreateAsync(Host, admin, plan.Id, 2, new DateOnly(2027, 1, 1));

        var results = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Host.Scenario(s =>
        {
            s.Post.Json(new { amountCents = 3_000, paidAt = "2026-11-01T10:00:00Z", method = "cash" }).ToUrl($"/api/dental/payment-plans/{paymentPlan.Id}/payments");
            s.WithBearerToken(admin.Token);
            s.IgnoreStatusCode();
        })));

        Assert.Equal(3, results.Count(r => r.Context.Response.StatusCode == 201));
        Assert.Equal(7, results.Count(r => r.Context.Response.StatusCode == 409));
        Assert.Equal(9_000L, await App.ScalarAsync<long>("select sum(amount_cents)::bigint from payments where payment_plan_id = @Id", new { paymentPlan.Id }));
        Assert.Equal(9_000L, await App.ScalarAsync<long>("select paid_cents from payment_plans where id = @Id", new { paymentPlan.Id }));
        Assert.Equal(9_000L, await App.ScalarAsync<long>("select sum(paid_cents)::bigint from payment_installments where payment_plan_id = @Id", new { paymentPlan.Id }));
    }

    [Fact]
    public async Task Needs_a_pro_plan()
    {
        await AssertNeedsProPlanAsync((_, _) => s =>
            s.Post.Json(new { amountCents = 1, paidAt = "2026-11-01T10:00:00Z", method = "cash" }).ToUrl($"/api/dental/payment-plans/{Guid.NewGuid()}/payments"));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s =>
            s.Post.Json(new { amountCents = 1, paidAt = "2026-11-01T10:00:00Z", method = "cash" }).ToUrl($"/api/dental/payment-plans/{Guid.NewGuid()}/payments"));
    }

    [Fact]
    public async Task Answers_404_for_another_clinics_payment_plan()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync();
        var plan = await AcceptedPlanAsync(other, await CreatePatientAsync(other), 5_000);
        var paymentPlan = await PaymentSteps.CreateAsync(Host, other, plan.Id, 2, new DateOnly(2027, 1, 1));

        await ErrorAsync(await PayAsync(admin, paymentPlan.Id, 100, HttpStatusCode.NotFound), ErrorCodes.NotFound);
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from payments where payment_plan_id = @Id", new { paymentPlan.Id }));
    }

    [Fact]
    public async Task Rejects_bad_input_with_details()
    {
        var admin = await RegisterClinicAsync();

        var error = await AssertInvalidAsync("amountCents", s =>
        {
            s.Post.Json(new { amountCents = 0, method = "bitcoin" }).ToUrl($"/api/dental/payment-plans/{Guid.NewGuid()}/payments");
            s.WithBearerToken(admin.Token);
        });
        Assert.Contains("paidAt", error.Details!.Keys);
        Assert.Contains("method", error.Details.Keys);
    }

    private Task<IScenarioResult> PayAsync(Account account, Guid paymentPlanId, long amountCents, HttpStatusCode expected) => Host.Scenario(s =>
    {
        s.Post.Json(new { amountCents, paidAt = "2026-11-01T10:00:00Z", method = "card" }).ToUrl($"/api/dental/payment-plans/{paymentPlanId}/payments");
        s.WithBearerToken(account.Token);
        s.StatusCodeShouldBe(expected);
    });
}
