using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.TreatmentTemplates;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.TreatmentTemplates;

/// <summary>POST /api/treatment-templates (<see cref="CreateTreatmentTemplate"/>).</summary>
public sealed class CreateTreatmentTemplateTests(AppFixture app) : ClinicalTest(app)
{
    [Fact]
    public async Task Creates_a_template_with_items_and_audits_it()
    {
        var admin = await RegisterClinicAsync();
        var doctor = await AddUserAsync(admin, "doctor");

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new { name = "Root canal", category = "endo", items = new[] { new Item("Canal", "E1", 46, 3, 12_000) } })
                .ToUrl("/api/treatment-templates");
            s.WithBearerToken(doctor.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });

        var template = await BodyAsync<CreateTreatmentTemplate.Response>(result);
        Assert.Equal(("Root canal", "endo", 36_000L), (template.Name, template.Category, template.TotalCents));
        Assert.Equal(46, Assert.Single(template.Items).Tooth);
        Assert.Equal(admin.ClinicId, await App.ScalarAsync<Guid>("select clinic_id from treatment_templates where id = @Id", new { template.Id }));
        Assert.Equal(1, await App.ScalarAsync<int>("select count(*)::int from treatment_template_items where template_id = @Id", new { template.Id }));
        Assert.Equal(template.Id.ToString(), (await LastAuditAsync(admin.ClinicId!.Value, "treatment_template.create"))!.EntityId);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Post.Json(new { name = "x" }).ToUrl("/api/treatment-templates"));
    }

    [Fact]
    public async Task Refuses_reception_staff()
    {
        await AssertRefusedForRoleAsync("staff", s => s.Post.Json(new { name = "x" }).ToUrl("/api/treatment-templates"));
    }

    [Fact]
    public async Task Rejects_bad_input_with_details()
    {
        var admin = await RegisterClinicAsync();

        var error = await AssertInvalidAsync("name", s =>
        {
            s.Post.Json(new { name = "", items = new[] { new Item("x", null, 86, 1, 1) } }).ToUrl("/api/treatment-templates");
            s.WithBearerToken(admin.Token);
        });
        Assert.Contains("items[0].tooth", error.Details!.Keys);
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from treatment_templates where clinic_id = @ClinicId", new { admin.ClinicId }));
    }
}
