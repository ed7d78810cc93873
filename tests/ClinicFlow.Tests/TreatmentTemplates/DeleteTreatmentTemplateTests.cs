using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.TreatmentTemplates;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.TreatmentTemplates;

/// <summary>DELETE /api/treatment-templates/{id} (<see cref="DeleteTreatmentTemplate"/>).</summary>
public sealed class DeleteTreatmentTemplateTests(AppFixture app) : ClinicalTest(app)
{
    [Fact]
    public async Task Deletes_the_template_and_unlinks_plans_prefilled_from_it()
    {
        var admin = await RegisterClinicAsync();
        var template = await TemplateSteps.CreateAsync(Host, admin, "Gone", new Item("x", null, null, 1, 100));
        var patient = await CreatePatientAsync(admin);
        await Host.Scenario(s =>
        {
            s.Post.Json(new { patientId = patient, templateId = template.Id }).ToUrl("/api/treatment-plans");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });

        await Host.Scenario(s =>
        {
            s.Delete.Url($"/api/treatment-templates/{template.Id}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NoContent);
        });

        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from treatment_templates where id = @Id", new { template.Id }));
        Assert.Equal(1, await App.ScalarAsync<int>(
            "select count(*)::int from treatment_plans where patient_id = @patient and template_id is null and clinic_id = @ClinicId",
            new { patient, admin.ClinicId }));
        Assert.Equal(template.Id.ToString(), (await LastAuditAsync(admin.ClinicId!.Value, "treatment_template.delete"))!.EntityId);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Delete.Url($"/api/treatment-templates/{Guid.NewGuid()}"));
    }

    [Fact]
    public async Task Refuses_reception_staff()
    {
        await AssertRefusedForRoleAsync("staff", s => s.Delete.Url($"/api/treatment-templates/{Guid.NewGuid()}"));
    }

    [Fact]
    public async Task Answers_404_for_another_clinics_template_and_keeps_it()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync();
        var template = await TemplateSteps.CreateAsync(Host, other);

        var result = await Host.Scenario(s =>
        {
            s.Delete.Url($"/api/treatment-templates/{template.Id}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });

        await ErrorAsync(result, ErrorCodes.NotFound);
        Assert.Equal(1, await App.ScalarAsync<int>("select count(*)::int from treatment_templates where id = @Id", new { template.Id }));
    }
}
