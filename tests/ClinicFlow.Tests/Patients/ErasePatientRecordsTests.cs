using System.Net;
using ClinicFlow.Slices.Patients;
using ClinicFlow.Tests.Dental;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Patients;

/// <summary>DELETE /api/patients/{id} (<see cref="ErasePatient"/>) and the clinical records: photos go, plans are retained and minimised.</summary>
public sealed class ErasePatientRecordsTests(AppFixture app) : ClinicalTest(app)
{
    [Fact]
    public async Task Removes_photos_and_keeps_treatment_documentation_minimised_under_retention()
    {
        var admin = await RegisterClinicAsync();
        var patient = await CreatePatientAsync(admin);
        var photo = await UploadAsync(admin, patient, RandomBytes(300_000));
        var plan = await AcceptedPlanAsync(admin, patient, 10_000);
        var schedule = await PaymentSteps.CreateAsync(Host, admin, plan.Id, 2, new DateOnly(2027, 1, 1));

        await Host.Scenario(s =>
        {
            s.Delete.Url($"/api/patients/{patient}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NoContent);
        });

        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from photos where id = @Id", new { photo.Id }));
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from photo_chunks where photo_id = @Id", new { photo.Id }));
        Assert.Equal(1, await App.ScalarAsync<int>("select count(*)::int from treatment_plans where id = @Id and notes is null", new { plan.Id }));
        Assert.Equal(1, await App.ScalarAsync<int>("select count(*)::int from treatment_plan_items where plan_id = @Id", new { plan.Id }));
        Assert.Equal(1, await App.ScalarAsync<int>("select count(*)::int from payment_plans where id = @Id", new { schedule.Id }));
        var retainUntil = await App.ScalarAsync<DateTime>("select retain_until from patients where id = @patient", new { patient });
        Assert.Equal(await App.ScalarAsync<DateTime>("select retain_until from treatment_plans where id = @Id", new { plan.Id }), retainUntil);
        Assert.True(retainUntil > DateTime.UtcNow.AddYears(10).AddDays(-1));
        // Retained, but locked: the plan is 404 through the API like the patient.
        await Host.Scenario(s =>
        {
            s.Get.Url($"/api/treatment-plans/{plan.Id}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });
    }
}
