using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.TreatmentPlans;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.TreatmentPlans;

/// <summary>GET /api/treatment-plans/{id} (<see cref="GetTreatmentPlan"/>).</summary>
public sealed class GetTreatmentPlanTests(AppFixture app) : ClinicalTest(app)
{
    [Fact]
    public async Task Answers_the_plan_with_items_in_order_and_its_total()
    {
        var admin = await RegisterClinicAsync();
        var patient = await CreatePatientAsync(admin);
        var created = await CreatePlanAsync(admin, patient, items: [new Item("A", null, 11, 3, 333), new Item("B", "X", 85, 1, 1)]);
        // The total always follows the stored items: computed by the database, never stored.
        await App.ExecuteAsync("update treatment_plan_items set quantity = 4 where plan_id = @Id and position = 1", new { created.Id });

        var result = await Host.Scenario(s =>
        {
            s.Get.Url($"/api/treatment-plans/{created.Id}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var plan = await BodyAsync<GetTreatmentPlan.Response>(result);
        Assert.Equal(["A", "B"], plan.Items.Select(i => i.Description));
        Assert.Equal([11, 85], plan.Items.Select(i => i.Tooth!.Value));
        Assert.Equal(4 * 333 + 1, plan.TotalCents);
        Assert.Null(plan.PaymentPlanId);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Get.Url($"/api/treatment-plans/{Guid.NewGuid()}"));
    }

    [Fact]
    public async Task Refuses_reception_staff()
    {
        await AssertRefusedForRoleAsync("staff", s => s.Get.Url($"/api/treatment-plans/{Guid.NewGuid()}"));
    }

    [Fact]
    public async Task Answers_404_for_another_clinics_plan()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync();
        var plan = await CreatePlanAsync(other, await CreatePatientAsync(other));

        var result = await Host.Scenario(s =>
        {
            s.Get.Url($"/api/treatment-plans/{plan.Id}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });

        await ErrorAsync(result, ErrorCodes.NotFound);
    }
}
