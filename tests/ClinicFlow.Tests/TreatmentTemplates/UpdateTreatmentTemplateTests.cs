using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.TreatmentTemplates;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.TreatmentTemplates;

/// <summary>PATCH /api/treatment-templates/{id} (<see cref="UpdateTreatmentTemplate"/>).</summary>
public sealed class UpdateTreatmentTemplateTests(AppFixture app) : ClinicalTest(app)
{
    [Fact]
    public async Task Renames_and_replaces_items_without_touching_plans_prefilled_from_it()
    {
        var admin = await RegisterClinicAsync();
        var template = await TemplateSteps.CreateAsync(Host, admin, "Old", new Item("x", null, null, 1, 100));
        var patient = await CreatePatientAsync(admin);
        var planResult = await Host.Scenario(s =>
        {
            s.Post.Json(new { patientId = patient, templateId = template.Id }).ToUrl("/api/treatment-plans");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        var planId = (await BodyAsync<ClinicFlow.Slices.TreatmentPlans.CreateTreatmentPlan.Response>(planResult)).Id;

        var result = await Host.Scenario(s =>
        {
            s.Patch.Json(new { name = "New", category = "", items = new[] { new Item("y", null, 21, 2, 700), new Item("z", null, null, 1, 1) } })
                .ToUrl($"/api/treatment-templates/{template.Id}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var updated = await BodyAsync<UpdateTreatmentTemplate.Response>(result);
        Assert.Equal(("New", null, 1_401L), (updated.Name, updated.Category, updated.TotalCents));
        Assert.Equal(["y", "z"], updated.Items.Select(i => i.Description));
        Assert.Equal(100L, await App.ScalarAsync<long>("select total_cents from treatment_plan_summaries where id = @planId", new { planId }));
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "treatment_template.update");
        Assert.Contains("\"items\"", audit!.Changes, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Patch.Json(new { name = "x" }).ToUrl($"/api/treatment-templates/{Guid.NewGuid()}"));
    }

    [Fact]
    public async Task Refuses_reception_staff()
    {
        await AssertRefusedForRoleAsync("staff", s => s.Patch.Json(new { name = "x" }).ToUrl($"/api/treatment-templates/{Guid.NewGuid()}"));
    }

    [Fact]
    public async Task Answers_404_for_another_clinics_template()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync();
        var template = await TemplateSteps.CreateAsync(Host, other, "Theirs");

        var result = await Host.Scenario(s =>
        {
            s.Patch.Json(new { name = "Mine" }).ToUrl($"/api/treatment-templates/{template.Id}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });

        await ErrorAsync(result, ErrorCodes.NotFound);
        Assert.Equal("Theirs", await App.ScalarAsync<string>("select name from treatment_templates where id = @Id", new { template.Id }));
    }

    [Fact]
    public async Task Rejects_a_blank_name_with_details()
    {
        var admin = await RegisterClinicAsync();
        var template = await TemplateSteps.CreateAsync(Host, admin);

        await AssertInvalidAsync("name", s =>
        {
            s.Patch.Json(new { name = " " }).ToUrl($"/api/treatment-templates/{template.Id}");
            s.WithBearerToken(admin.Token);
        });
    }
}
