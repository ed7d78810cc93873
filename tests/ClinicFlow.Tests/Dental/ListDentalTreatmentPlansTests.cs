using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Dental;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Dental;

/// <summary>GET /api/dental/treatment-plans (<see cref="ListDentalTreatmentPlans"/>).</summary>
public sealed class ListDentalTreatmentPlansTests(AppFixture app) : ClinicalTest(app)
{
    [Fact]
    public async Task Filters_by_patient_and_status_and_pages()
    {
        var admin = await RegisterClinicAsync();
        var staff = await AddUserAsync(admin, "staff");
        var ana = await CreatePatientAsync(admin, "Ana");
        var bea = await CreatePatientAsync(admin, "Bea");
        var anaDraft = await CreatePlanAsync(admin, ana);
        var anaAccepted = await CreatePlanAsync(admin, ana, "accepted");
        var beaAccepted = await CreatePlanAsync(admin, bea, "accepted");
        var other = await RegisterClinicAsync();
        await CreatePlanAsync(other, await CreatePatientAsync(other), "accepted");

        Assert.Equal([anaDraft.Id, anaAccepted.Id], (await PageAsync(staff, $"?patientId={ana}")).Items.Select(p => p.Id));
        Assert.Equal([anaAccepted.Id, beaAccepted.Id], (await PageAsync(staff, "?status=accepted")).Items.Select(p => p.Id));
        Assert.Equal([beaAccepted.Id], (await PageAsync(staff, $"?patientId={bea}&status=accepted")).Items.Select(p => p.Id));
        var page1 = await PageAsync(staff, "?limit=2");
        var page2 = await PageAsync(staff, $"?limit=2&cursor={page1.NextCursor}");
        Assert.Equal([beaAccepted.Id], page2.Items.Select(p => p.Id));
        Assert.Equal(10_000, page2.Items[0].TotalCents);
    }

    [Fact]
    public async Task Needs_a_pro_plan()
    {
        await AssertNeedsProPlanAsync((_, _) => s => s.Get.Url("/api/dental/treatment-plans"));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Get.Url("/api/dental/treatment-plans"));
    }

    [Fact]
    public async Task Shows_nothing_of_another_clinic_for_its_patient_id()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync();
        var foreign = await CreatePatientAsync(other);
        await CreatePlanAsync(other, foreign);

        Assert.Empty((await PageAsync(admin, $"?patientId={foreign}")).Items);
    }

    [Fact]
    public async Task Rejects_an_unknown_status_with_details()
    {
        var admin = await RegisterClinicAsync();

        await AssertInvalidAsync("status", s =>
        {
            s.Get.Url("/api/dental/treatment-plans?status=paid");
            s.WithBearerToken(admin.Token);
        });
    }

    private async Task<Page<ListDentalTreatmentPlans.Response>> PageAsync(Account account, string query)
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/dental/treatment-plans" + query);
            s.WithBearerToken(account.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        return await BodyAsync<Page<ListDentalTreatmentPlans.Response>>(result);
    }
}
