using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.TreatmentPlans;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.TreatmentPlans;

/// <summary>GET /api/treatment-plans/patient/{patientId} (<see cref="ListPatientTreatmentPlans"/>).</summary>
public sealed class ListPatientTreatmentPlansTests(AppFixture app) : ClinicalTest(app)
{
    [Fact]
    public async Task Lists_the_patients_plans_with_items_page_by_page()
    {
        var admin = await RegisterClinicAsync();
        var patient = await CreatePatientAsync(admin);
        var first = await CreatePlanAsync(admin, patient, items: Items(100, 200));
        var second = await CreatePlanAsync(admin, patient, items: Items(5));
        await CreatePlanAsync(admin, await CreatePatientAsync(admin, "Otro"));

        var page1 = await PageAsync(admin, $"/api/treatment-plans/patient/{patient}?limit=1");
        var page2 = await PageAsync(admin, $"/api/treatment-plans/patient/{patient}?limit=1&cursor={page1.NextCursor}");

        Assert.Equal(first.Id, Assert.Single(page1.Items).Id);
        Assert.Equal(300, page1.Items[0].TotalCents);
        Assert.Equal(2, page1.Items[0].Items.Count);
        Assert.Equal(second.Id, Assert.Single(page2.Items).Id);
        Assert.Null(page2.NextCursor);
        Assert.Equal(2, await App.ScalarAsync<int>("select count(*)::int from treatment_plans where patient_id = @patient", new { patient }));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Get.Url($"/api/treatment-plans/patient/{Guid.NewGuid()}"));
    }

    [Fact]
    public async Task Refuses_reception_staff()
    {
        await AssertRefusedForRoleAsync("staff", s => s.Get.Url($"/api/treatment-plans/patient/{Guid.NewGuid()}"));
    }

    [Fact]
    public async Task Answers_404_for_another_clinics_patient()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync();
        var foreign = await CreatePatientAsync(other);
        await CreatePlanAsync(other, foreign);

        var result = await Host.Scenario(s =>
        {
            s.Get.Url($"/api/treatment-plans/patient/{foreign}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });

        await ErrorAsync(result, ErrorCodes.NotFound);
    }

    [Fact]
    public async Task Rejects_a_bad_cursor_with_details()
    {
        var admin = await RegisterClinicAsync();
        var patient = await CreatePatientAsync(admin);

        await AssertInvalidAsync("cursor", s =>
        {
            s.Get.Url($"/api/treatment-plans/patient/{patient}?cursor=%%%");
            s.WithBearerToken(admin.Token);
        });
    }

    private async Task<Page<ListPatientTreatmentPlans.Response>> PageAsync(Account account, string url)
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url(url);
            s.WithBearerToken(account.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        return await BodyAsync<Page<ListPatientTreatmentPlans.Response>>(result);
    }
}
