using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Photos;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Photos;

/// <summary>PATCH /api/photos/{id}/consent (<see cref="UpdatePhotoConsent"/>).</summary>
public sealed class UpdatePhotoConsentTests(AppFixture app) : ClinicalTest(app)
{
    [Fact]
    public async Task Grants_then_revokes_consent_with_the_form_and_audits_each_change()
    {
        var admin = await RegisterClinicAsync();
        var photo = await UploadAsync(admin, await CreatePatientAsync(admin));
        var formId = Guid.CreateVersion7();

        var granted = await PatchAsync(admin, photo.Id, new UpdatePhotoConsent.Request("granted", formId));
        var revoked = await PatchAsync(admin, photo.Id, new UpdatePhotoConsent.Request("revoked", null));

        Assert.Equal(("granted", formId), (granted.ConsentStatus, granted.ConsentFormId));
        Assert.Equal(("revoked", formId), (revoked.ConsentStatus, revoked.ConsentFormId));
        Assert.Equal("revoked", await App.ScalarAsync<string>("select consent_status from photos where id = @Id", new { photo.Id }));
        Assert.Equal(formId, await App.ScalarAsync<Guid>("select consent_form_id from photos where id = @Id", new { photo.Id }));
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "photo.consent");
        Assert.Equal(photo.Id.ToString(), audit!.EntityId);
        Assert.Contains("\"from\": \"granted\"", audit.Changes, StringComparison.Ordinal);
        Assert.Contains("\"to\": \"revoked\"", audit.Changes, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Writes_no_audit_entry_when_nothing_changes()
    {
        var admin = await RegisterClinicAsync();
        var photo = await UploadAsync(admin, await CreatePatientAsync(admin));

        await PatchAsync(admin, photo.Id, new UpdatePhotoConsent.Request("pending", null));

        Assert.Null(await LastAuditAsync(admin.ClinicId!.Value, "photo.consent"));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Patch.Json(new { consentStatus = "granted" }).ToUrl($"/api/photos/{Guid.NewGuid()}/consent"));
    }

    [Fact]
    public async Task Refuses_reception_staff()
    {
        await AssertRefusedForRoleAsync("staff", s => s.Patch.Json(new { consentStatus = "granted" }).ToUrl($"/api/photos/{Guid.NewGuid()}/consent"));
    }

    [Fact]
    public async Task Answers_404_for_another_clinics_photo()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync();
        var photo = await UploadAsync(other, await CreatePatientAsync(other));

        var result = await Host.Scenario(s =>
        {
            s.Patch.Json(new { consentStatus = "granted" }).ToUrl($"/api/photos/{photo.Id}/consent");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });

        await ErrorAsync(result, ErrorCodes.NotFound);
        Assert.Equal("pending", await App.ScalarAsync<string>("select consent_status from photos where id = @Id", new { photo.Id }));
    }

    [Theory]
    [InlineData("{\"consentStatus\":\"maybe\"}", "consentStatus")]
    [InlineData("{}", "consentStatus")]
    public async Task Rejects_a_bad_status_with_details(string body, string field)
    {
        var admin = await RegisterClinicAsync();
        var photo = await UploadAsync(admin, await CreatePatientAsync(admin));

        await AssertInvalidAsync(field, s =>
        {
            s.Patch.Text(body).ToUrl($"/api/photos/{photo.Id}/consent");
            s.WithRequestHeader("Content-Type", "application/json");
            s.WithBearerToken(admin.Token);
        });
    }

    [Fact]
    public async Task Rejects_a_consent_form_id_that_is_not_a_uuid()
    {
        var admin = await RegisterClinicAsync();
        var photo = await UploadAsync(admin, await CreatePatientAsync(admin));

        var result = await Host.Scenario(s =>
        {
            s.Patch.Text("{\"consentStatus\":\"granted\",\"consentFormId\":\"form-1\"}").ToUrl($"/api/photos/{photo.Id}/consent");
            s.WithRequestHeader("Content-Type", "application/json");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.BadRequest);
        });

        var error = await ErrorAsync(result, ErrorCodes.InvalidJson);
        Assert.Contains("consentFormId", error.Details!.Keys);
    }

    private async Task<UpdatePhotoConsent.Response> PatchAsync(Account account, Guid id, UpdatePhotoConsent.Request request)
    {
        var result = await Host.Scenario(s =>
        {
            s.Patch.Json(request).ToUrl($"/api/photos/{id}/consent");
            s.WithBearerToken(account.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        return await BodyAsync<UpdatePhotoConsent.Response>(result);
    }
}
