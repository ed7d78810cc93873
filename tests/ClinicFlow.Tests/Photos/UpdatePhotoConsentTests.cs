using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Photos;
using ClinicFlow.Tests.Consent;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Photos;

/// <summary>PATCH /api/photos/{id}/consent (<see cref="UpdatePhotoConsent"/>).</summary>
public sealed class UpdatePhotoConsentTests(AppFixture app) : ClinicalTest(app)
{
    [Fact]
    public async Task Grants_then_revokes_consent_with_the_form_and_audits_each_change()
    {
        var admin = await RegisterClinicAsync();
        var patientId = await CreatePatientAsync(admin);
        var photo = await UploadAsync(admin, patientId);
        var formId = await FormOfAsync(admin, patientId);

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

    [Fact]
    public async Task Refuses_a_form_of_another_patient_and_changes_nothing()
    {
        var admin = await RegisterClinicAsync();
        var photo = await UploadAsync(admin, await CreatePatientAsync(admin));
        var otherForm = await FormOfAsync(admin, await CreatePatientAsync(admin));

        var error = await AssertInvalidAsync("consentFormId", s =>
        {
            s.Patch.Json(new UpdatePhotoConsent.Request("granted", otherForm)).ToUrl($"/api/photos/{photo.Id}/consent");
            s.WithBearerToken(admin.Token);
        });

        Assert.Equal(ErrorCodes.ValidationError, error.Code);
        Assert.Equal("pending", await App.ScalarAsync<string>("select consent_status from photos where id = @Id", new { photo.Id }));
        Assert.Null(await LastAuditAsync(admin.ClinicId!.Value, "photo.consent"));
    }

    [Fact]
    public async Task Answers_404_for_a_form_of_another_clinic_or_none()
    {
        var admin = await RegisterClinicAsync();
        var photo = await UploadAsync(admin, await CreatePatientAsync(admin));
        var other = await RegisterClinicAsync("Other clinic");
        var foreignForm = await FormOfAsync(other, await CreatePatientAsync(other));

        foreach (var formId in new[] { foreignForm, Guid.CreateVersion7() })
        {
            var result = await Host.Scenario(s =>
            {
                s.Patch.Json(new UpdatePhotoConsent.Request("granted", formId)).ToUrl($"/api/photos/{photo.Id}/consent");
                s.WithBearerToken(admin.Token);
                s.StatusCodeShouldBe(HttpStatusCode.NotFound);
            });
            await ErrorAsync(result, ErrorCodes.NotFound);
        }

        Assert.Equal("pending", await App.ScalarAsync<string>("select consent_status from photos where id = @Id", new { photo.Id }));
    }

    [Fact]
    public async Task The_schema_refuses_a_form_of_another_patient_written_past_the_api()
    {
        var admin = await RegisterClinicAsync();
        var photo = await UploadAsync(admin, await CreatePatientAsync(admin));
        var otherForm = await FormOfAsync(admin, await CreatePatientAsync(admin));

        var refused = await Assert.ThrowsAsync<Npgsql.PostgresException>(() =>
            App.ExecuteAsync("update photos set consent_form_id = @otherForm where id = @Id", new { otherForm, photo.Id }));

        Assert.Equal("23503", refused.SqlState);
        Assert.Equal("fk_photos_consent_form", refused.ConstraintName);
    }

    private async Task<Guid> FormOfAsync(Account admin, Guid patientId)
    {
        using var key = PracticeKey.NewEc();
        await Host.PublishKeyAsync(admin, key);
        return (await Host.CreateFormAsync(admin, patientId)).Id;
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
