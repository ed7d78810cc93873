using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.TreatmentPlans;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.TreatmentPlans;

/// <summary>DELETE /api/treatment-plans/{id} (<see cref="DeleteTreatmentPlan"/>).</summary>
public sealed class DeleteTreatmentPlanTests(AppFixture app) : ClinicalTest(app)
{
    [Fact]
    public async Task Deletes_a_draft_with_its_items_and_audits_it()
    {
        var admin = await RegisterClinicAsync();
        var plan = await CreatePlanAsync(admin, await CreatePatientAsync(admin));

        await Host.Scenario(s =>
        {
            s.Delete.Url($"/api/treatment-plans/{plan.Id}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NoContent);
        });

        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from treatment_plans where id = @Id", new { plan.Id }));
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from treatment_plan_items where plan_id = @Id", new { plan.Id }));
        Assert.Equal(plan.Id.ToString(), (await LastAuditAsync(admin.ClinicId!.Value, "treatment_plan.delete"))!.EntityId);
    }

    [Fact]
    public async Task Keeps_a_proposed_plan_as_documentation_with_409()
    {
        var admin = await RegisterClinicAsync();
        var plan = await CreatePlanAsync(admin, await CreatePatientAsync(admin), "proposed");

        var result = await Host.Scenario(s =>
        {
            s.Delete.Url($"/api/treatment-plans/{plan.Id}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Conflict);
        });

        await ErrorAsync(result, ErrorCodes.InvalidState);
        Assert.Equal(1, await App.ScalarAsync<int>("select count(*)::int from treatment_plans where id = @Id", new { plan.Id }));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Delete.Url($"/api/treatment-plans/{Guid.NewGuid()}"));
    }

    [Fact]
    public async Task Refuses_reception_staff()
    {
        await AssertRefusedForRoleAsync("staff", s => s.Delete.Url($"/api/treatment-plans/{Guid.NewGuid()}"));
    }

    [Fact]
    public async Task Answers_404_for_another_clinics_plan_and_keeps_it()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync();
        var plan = await CreatePlanAsync(other, await CreatePatientAsync(other));

        var result = await Host.Scenario(s =>
        {
            s.Delete.Url($"/api/treatment-plans/{plan.Id}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });

        await ErrorAsync(result, ErrorCodes.NotFound);
        Assert.Equal(1, await App.ScalarAsync<int>("select count(*)::int from treatment_plans where id = @Id", new { plan.Id }));
    }
}
