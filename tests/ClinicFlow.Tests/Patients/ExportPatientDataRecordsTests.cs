using System.Net;
using ClinicFlow.Slices.Patients;
using ClinicFlow.Tests.Dental;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Patients;

/// <summary>GET /api/patients/{id}/export (<see cref="ExportPatientData"/>) with the clinical records of the patient.</summary>
public sealed class ExportPatientDataRecordsTests(AppFixture app) : ClinicalTest(app)
{
    [Fact]
    public async Task Includes_photo_metadata_with_links_plans_payment_plans_and_their_audit_entries()
    {
        var admin = await RegisterClinicAsync();
        var patient = await CreatePatientAsync(admin);
        var other = await CreatePatientAsync(admin, "Otra");
        var photo = await UploadAsync(admin, patient);
        var deleted = await UploadAsync(admin, patient);
        await Host.Scenario(s =>
        {
            s.Delete.Url($"/api/photos/{deleted.Id}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NoContent);
        });
        await UploadAsync(admin, other);
        var plan = await AcceptedPlanAsync(admin, patient, 10_000);
        var schedule = await PaymentSteps.CreateAsync(Host, admin, plan.Id, 2, new DateOnly(2027, 1, 1));
        await Host.Scenario(s =>
        {
            s.Post.Json(new { amountCents = 6_000, paidAt = "2026-11-01T10:00:00Z", method = "cash" }).ToUrl($"/api/dental/payment-plans/{schedule.Id}/payments");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        await CreatePlanAsync(admin, other);

        var result = await Host.Scenario(s =>
        {
            s.Get.Url($"/api/patients/{patient}/export");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var export = await BodyAsync<ExportPatientData.Response>(result);
        var exported = Assert.Single(export.Photos);
        Assert.Equal((photo.Id, photo.Sha256, KeyEnvelope), (exported.Id, exported.Sha256, exported.KeyEnvelope));
        Assert.Equal($"{AppFixture.PublicBaseUrl}/api/photos/{photo.Id}/download", exported.DownloadUrl);
        var exportedPlan = Assert.Single(export.TreatmentPlans);
        Assert.Equal((plan.Id, 10_000L, "accepted"), (exportedPlan.Id, exportedPlan.TotalCents, exportedPlan.Status));
        Assert.Equal("Implant", Assert.Single(exportedPlan.Items).Description);
        var exportedSchedule = Assert.Single(export.PaymentPlans);
        Assert.Equal([5_000L, 1_000L], exportedSchedule.Schedule.Select(i => i.PaidCents));
        Assert.Equal(6_000L, Assert.Single(exportedSchedule.Payments).AmountCents);
        var actions = export.RecordsAuditTrail.Select(e => (e.Action, e.EntityId)).ToList();
        Assert.Contains(("photo.create", photo.Id.ToString()), actions);
        Assert.Contains(("photo.delete", deleted.Id.ToString()), actions);
        Assert.Contains(("treatment_plan.create", plan.Id.ToString()), actions);
        Assert.Contains(("payment_plan.create", schedule.Id.ToString()), actions);
        Assert.Contains(("payment.create", schedule.Id.ToString()), actions);
        Assert.Equal(6, actions.Count);
    }
}
