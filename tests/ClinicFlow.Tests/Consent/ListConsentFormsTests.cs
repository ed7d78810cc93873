using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Consent;
using ClinicFlow.Tests.Patients;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Consent;

public sealed class ListConsentFormsTests(AppFixture app) : ApiTest(app)
{
    [Fact]
    public async Task Lists_newest_first_with_links_and_the_envelope_as_submitted_which_only_the_practice_key_opens()
    {
        var admin = await RegisterClinicAsync();
        var doctor = await AddUserAsync(admin, "doctor");
        using var key = PracticeKey.NewEc();
        var (patientId, first) = await Host.PatientWithFormAsync(admin, key);
        var second = await Host.CreateFormAsync(admin, patientId, "photo", "Fotodokumentation");
        var answers = ConsentTestData.Answers("Zoë Ærøskøbing");
        var jwe = key.Encrypt(answers);
        await Host.SubmitAsync(first.Token, jwe);

        var page = await ListAsync(doctor, "");

        Assert.Equal([second.Id, first.Id], page.Items.Select(i => i.Id));
        var submitted = page.Items[1];
        Assert.Equal("submitted", submitted.Status);
        Assert.Equal(jwe, submitted.EncryptedPayload);
        Assert.Equal(first.Token, submitted.Token);
        Assert.Equal(first.Url, submitted.Url);
        Assert.Equal(answers, key.Decrypt(submitted.EncryptedPayload!));
        using var stranger = PracticeKey.NewEc(key.Kid);
        Assert.ThrowsAny<Exception>(() => stranger.Decrypt(submitted.EncryptedPayload!));
        Assert.Equal("pending", page.Items[0].Status);
        Assert.Null(page.Items[0].EncryptedPayload);
        Assert.Null(page.NextCursor);
    }

    [Fact]
    public async Task Filters_by_status_type_and_patient_and_pages_with_a_cursor()
    {
        var admin = await RegisterClinicAsync();
        using var key = PracticeKey.NewEc();
        var (patientId, submittedForm) = await Host.PatientWithFormAsync(admin, key);
        var other = await Host.AddPatientAsync(admin, new { fullName = "Other Patient" });
        var revoked = await Host.CreateFormAsync(admin, patientId, "photo");
        var expired = await Host.CreateFormAsync(admin, patientId, "photo");
        var pending = await Host.CreateFormAsync(admin, other.Id, "data_processing");
        await Host.SubmitAsync(submittedForm.Token, key.Encrypt("{}"));
        await App.ExecuteAsync("update consent_forms set revoked_at = now() where id = @Id", new { revoked.Id });
        await App.ExecuteAsync("update consent_forms set expires_at = now() - interval '1 minute' where id = @Id", new { expired.Id });

        Assert.Equal([submittedForm.Id], (await ListAsync(admin, "?status=submitted")).Items.Select(i => i.Id));
        Assert.Equal([revoked.Id], (await ListAsync(admin, "?status=revoked")).Items.Select(i => i.Id));
        Assert.Equal([expired.Id], (await ListAsync(admin, "?status=expired")).Items.Select(i => i.Id));
        Assert.Equal([pending.Id], (await ListAsync(admin, "?status=pending")).Items.Select(i => i.Id));
        Assert.Equal([expired.Id, revoked.Id], (await ListAsync(admin, "?type=photo")).Items.Select(i => i.Id));
        Assert.Equal([pending.Id], (await ListAsync(admin, $"?patientId={other.Id}")).Items.Select(i => i.Id));
        var future = Uri.EscapeDataString(DateTimeOffset.UtcNow.AddDays(1).ToString("O"));
        Assert.Empty((await ListAsync(admin, $"?from={future}")).Items);

        var firstPage = await ListAsync(admin, "?limit=3");
        Assert.Equal([pending.Id, expired.Id, revoked.Id], firstPage.Items.Select(i => i.Id));
        var secondPage = await ListAsync(admin, $"?limit=3&cursor={firstPage.NextCursor}");
        Assert.Equal([submittedForm.Id], secondPage.Items.Select(i => i.Id));
        Assert.Null(secondPage.NextCursor);
    }

    [Fact]
    public async Task Shows_no_form_of_another_clinic()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync();
        using var key = PracticeKey.NewEc();
        using var otherKey = PracticeKey.NewEc();
        await Host.PublishKeyAsync(admin, key);
        var (_, foreign) = await Host.PatientWithFormAsync(other, otherKey);

        var page = await ListAsync(admin, "");

        Assert.Empty(page.Items);
        Assert.Equal([foreign.Id], (await ListAsync(other, "")).Items.Select(i => i.Id));
    }

    [Fact]
    public async Task Rejects_an_unknown_status_with_details()
    {
        var admin = await RegisterClinicAsync();

        await AssertInvalidAsync("status", s =>
        {
            s.Get.Url("/api/consent/practice?status=signed");
            s.WithBearerToken(admin.Token);
        });
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Get.Url("/api/consent/practice"));
    }

    [Fact]
    public async Task Refuses_reception_staff()
    {
        await AssertRefusedForRoleAsync("staff", s => s.Get.Url("/api/consent/practice"));
    }

    private async Task<Page<ListConsentForms.Response>> ListAsync(Account caller, string query)
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/consent/practice" + query);
            s.WithBearerToken(caller.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        return await result.ReadAsJsonAsync<Page<ListConsentForms.Response>>();
    }
}
