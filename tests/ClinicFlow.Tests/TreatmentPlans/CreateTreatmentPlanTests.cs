using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.TreatmentPlans;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.TreatmentPlans;

/// <summary>POST /api/treatment-plans (<see cref="CreateTreatmentPlan"/>).</summary>
public sealed class CreateTreatmentPlanTests(AppFixture app) : ClinicalTest(app)
{
    [Fact]
    public async Task Creates_a_plan_with_items_and_a_total_computed_in_sql()
    {
        var admin = await RegisterClinicAsync();
        var doctor = await AddUserAsync(admin, "doctor");
        var patient = await CreatePatientAsync(admin);

        var plan = await CreatePlanAsync(doctor, patient, "proposed",
            [new Item("Filling", "F1", 36, 2, 4_550), new Item("Cleaning", null, null, 1, 9_999)], "Upper jaw");

        Assert.Equal(("Upper jaw", "proposed", "Note", patient), (plan.Title, plan.Status, plan.Notes, plan.PatientId));
        Assert.Equal(2 * 4_550 + 9_999, plan.TotalCents);
        Assert.Equal(["Filling", "Cleaning"], plan.Items.Select(i => i.Description));
        Assert.Equal(36, plan.Items[0].Tooth);
        Assert.InRange(plan.RetainUntil, DateTimeOffset.UtcNow.AddYears(10).AddDays(-1), DateTimeOffset.UtcNow.AddYears(10).AddDays(1));
        Assert.Equal(2, await App.ScalarAsync<int>("select count(*)::int from treatment_plan_items where plan_id = @Id", new { plan.Id }));
        Assert.Equal(doctor.UserId, await App.ScalarAsync<Guid>("select created_by from treatment_plans where id = @Id", new { plan.Id }));
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "treatment_plan.create");
        Assert.Equal(plan.Id.ToString(), audit!.EntityId);
        Assert.Contains("\"items\"", audit.Changes, StringComparison.Ordinal);
        Assert.DoesNotContain("Upper jaw", audit.Changes, StringComparison.Ordinal);
        Assert.DoesNotContain("Filling", audit.Changes, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Prefills_title_and_items_from_a_template()
    {
        var admin = await RegisterClinicAsync();
        var patient = await CreatePatientAsync(admin);
        var template = await Host.Scenario(s =>
        {
            s.Post.Json(new { name = "Crown", category = "prosthetics", items = new[] { new Item("Crown", "K1", 11, 1, 50_000), new Item("Lab", "L", null, 2, 7_500) } })
                .ToUrl("/api/treatment-templates");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        var templateId = (await BodyAsync<ClinicFlow.Slices.TreatmentTemplates.CreateTreatmentTemplate.Response>(template)).Id;

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new { patientId = patient, templateId }).ToUrl("/api/treatment-plans");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });

        var plan = await BodyAsync<CreateTreatmentPlan.Response>(result);
        Assert.Equal(("Crown", "draft", templateId), (plan.Title, plan.Status, plan.TemplateId));
        Assert.Equal(65_000, plan.TotalCents);
        Assert.Equal(["Crown", "Lab"], plan.Items.Select(i => i.Description));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Post.Json(new { patientId = Guid.NewGuid(), title = "x" }).ToUrl("/api/treatment-plans"));
    }

    [Fact]
    public async Task Refuses_reception_staff()
    {
        await AssertRefusedForRoleAsync("staff", s => s.Post.Json(new { patientId = Guid.NewGuid(), title = "x" }).ToUrl("/api/treatment-plans"));
    }

    [Fact]
    public async Task Answers_404_for_a_plan_for_another_clinics_patient()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync();
        var foreign = await CreatePatientAsync(other);

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new { patientId = foreign, title = "x", items = Items(100) }).ToUrl("/api/treatment-plans");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });

        await ErrorAsync(result, ErrorCodes.NotFound);
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from treatment_plans where patient_id = @foreign", new { foreign }));
    }

    [Fact]
    public async Task Rejects_bad_input_with_details_naming_the_items()
    {
        var admin = await RegisterClinicAsync();

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new
            {
                title = "",
                status = "completed",
                items = new object[] { new { description = "", quantity = 0, unitPriceCents = -1, tooth = 19 } },
            }).ToUrl("/api/treatment-plans");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.BadRequest);
        });

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        foreach (var field in new[] { "patientId", "title", "status", "items[0].description", "items[0].quantity", "items[0].unitPriceCents", "items[0].tooth" })
        {
            Assert.Contains(field, error.Details!.Keys);
        }
    }
}
