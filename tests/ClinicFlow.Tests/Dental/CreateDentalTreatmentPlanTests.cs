using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Dental;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Dental;

/// <summary>POST /api/dental/treatment-plans (<see cref="CreateDentalTreatmentPlan"/>).</summary>
public sealed class CreateDentalTreatmentPlanTests(AppFixture app) : ClinicalTest(app)
{
    [Fact]
    public async Task Reception_staff_create_a_plan_on_fdi_teeth_seen_by_both_route_families()
    {
        var admin = await RegisterClinicAsync();
        var staff = await AddUserAsync(admin, "staff");
        var patient = await CreatePatientAsync(admin);

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new { patientId = patient, title = "Molars", items = new[] { new Item("Filling", "F", 48, 1, 8_000), new Item("Milk tooth", null, 85, 1, 2_000) } })
                .ToUrl("/api/dental/treatment-plans");
            s.WithBearerToken(staff.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });

        var plan = await BodyAsync<CreateDentalTreatmentPlan.Response>(result);
        Assert.Equal(("Molars", "draft", 10_000L), (plan.Title, plan.Status, plan.TotalCents));
        Assert.Equal([48, 85], plan.Items.Select(i => i.Tooth!.Value));
        Assert.Equal([48, 85], await App.QueryAsync<int>("select tooth::int from treatment_plan_items where plan_id = @Id order by position", new { plan.Id }));
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "treatment_plan.create");
        Assert.Equal((plan.Id.ToString(), staff.UserId), (audit!.EntityId, audit.ActorId));
    }

    [Theory]
    [InlineData(10)]
    [InlineData(19)]
    [InlineData(49)]
    [InlineData(56)]
    [InlineData(86)]
    [InlineData(91)]
    [InlineData(0)]
    public async Task Rejects_a_tooth_outside_fdi_notation(int tooth)
    {
        var admin = await RegisterClinicAsync();
        var patient = await CreatePatientAsync(admin);

        await AssertInvalidAsync("items[0].tooth", s =>
        {
            s.Post.Json(new { patientId = patient, title = "x", items = new[] { new Item("x", null, tooth, 1, 1) } }).ToUrl("/api/dental/treatment-plans");
            s.WithBearerToken(admin.Token);
        });
    }

    [Fact]
    public async Task Needs_a_pro_plan()
    {
        await AssertNeedsProPlanAsync((_, patient) => s => s.Post.Json(new { patientId = patient, title = "x" }).ToUrl("/api/dental/treatment-plans"));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Post.Json(new { patientId = Guid.NewGuid(), title = "x" }).ToUrl("/api/dental/treatment-plans"));
    }

    [Fact]
    public async Task Answers_404_for_a_plan_for_clinic_bs_patient()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync();
        var foreign = await CreatePatientAsync(other);

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new { patientId = foreign, title = "x", items = Items(100) }).ToUrl("/api/dental/treatment-plans");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });

        await ErrorAsync(result, ErrorCodes.NotFound);
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from treatment_plans where patient_id = @foreign", new { foreign }));
    }
}
