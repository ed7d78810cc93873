using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Consent;
using ClinicFlow.Tests.Settings;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Consent;

public sealed class GetPublicConsentFormTests(AppFixture app) : ApiTest(app)
{
    [Fact]
    public async Task Shows_the_page_without_patient_data_and_records_the_first_read_as_opened()
    {
        var admin = await RegisterClinicAsync("Zahnarztpraxis Dr. Weiß", "DE");
        using var key = PracticeKey.NewEc();
        var (patientId, form) = await Host.PatientWithFormAsync(admin, key);
        await Host.UploadLogoAsync(admin, LogoTestData.Png());

        var result = await Host.Scenario(s =>
        {
            s.Get.Url($"/api/consent/{form.Token}");
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var text = await result.ReadAsTextAsync();
        var page = await result.ReadAsJsonAsync<GetPublicConsentForm.Response>();
        Assert.Equal("Zahnarztpraxis Dr. Weiß", page.Practice.Name);
        Assert.StartsWith($"{AppFixture.PublicBaseUrl}/api/public/clinics/{admin.ClinicId}/logo", page.Practice.LogoUrl, StringComparison.Ordinal);
        Assert.Equal(form.Title, page.Title);
        Assert.Equal(form.Body, page.Body);
        Assert.Equal("treatment", page.Type);
        Assert.Equal("pending", page.Status);
        Assert.Equal(form.ExpiresAt, page.ExpiresAt);
        Assert.Equal(key.Kid, page.PublicKey.GetProperty("kid").GetString());
        Assert.False(page.PublicKey.TryGetProperty("d", out _));
        Assert.DoesNotContain("Müller", text, StringComparison.Ordinal);
        Assert.DoesNotContain(patientId.ToString(), text, StringComparison.Ordinal);

        var opened = await App.ScalarAsync<DateTimeOffset>("select opened_at from consent_forms where id = @Id", new { form.Id });
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "consent.open");
        Assert.Equal("public", audit!.ActorType);
        await Host.Scenario(s =>
        {
            s.Get.Url($"/api/consent/{form.Token}");
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        Assert.Equal(opened, await App.ScalarAsync<DateTimeOffset>("select opened_at from consent_forms where id = @Id", new { form.Id }));
        Assert.Equal(1, await App.ScalarAsync<int>("select count(*)::int from audit_log where clinic_id = @ClinicId and action = 'consent.open'", new { admin.ClinicId }));
    }

    [Fact]
    public async Task Shows_the_key_the_form_named_even_after_the_practice_replaced_it()
    {
        var admin = await RegisterClinicAsync();
        using var oldKey = PracticeKey.NewEc();
        using var newKey = PracticeKey.NewEc();
        var (_, form) = await Host.PatientWithFormAsync(admin, oldKey);
        await Host.PublishKeyAsync(admin, newKey);

        var result = await Host.Scenario(s =>
        {
            s.Get.Url($"/api/consent/{form.Token}");
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var page = await result.ReadAsJsonAsync<GetPublicConsentForm.Response>();
        Assert.Equal(oldKey.Kid, page.PublicKey.GetProperty("kid").GetString());
    }

    [Fact]
    public async Task Answers_410_link_expired_after_the_expiry()
    {
        var admin = await RegisterClinicAsync();
        using var key = PracticeKey.NewEc();
        var (_, form) = await Host.PatientWithFormAsync(admin, key);
        await App.ExecuteAsync("update consent_forms set expires_at = now() - interval '1 second' where id = @Id", new { form.Id });

        var result = await Host.Scenario(s =>
        {
            s.Get.Url($"/api/consent/{form.Token}");
            s.StatusCodeShouldBe(HttpStatusCode.Gone);
        });

        await ErrorAsync(result, ErrorCodes.LinkExpired);
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from consent_forms where id = @Id and opened_at is not null", new { form.Id }));
    }

    [Fact]
    public async Task Answers_410_link_revoked_for_a_revoked_form()
    {
        var admin = await RegisterClinicAsync();
        using var key = PracticeKey.NewEc();
        var (_, form) = await Host.PatientWithFormAsync(admin, key);
        await App.ExecuteAsync("update consent_forms set revoked_at = now() where id = @Id", new { form.Id });

        var result = await Host.Scenario(s =>
        {
            s.Get.Url($"/api/consent/{form.Token}");
            s.StatusCodeShouldBe(HttpStatusCode.Gone);
        });

        await ErrorAsync(result, ErrorCodes.LinkRevoked);
    }

    [Fact]
    public async Task Answers_404_for_an_unknown_token()
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/consent/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });

        await ErrorAsync(result, ErrorCodes.NotFound);
    }

    [Fact]
    public async Task Is_limited_by_the_public_link_rate_limit()
    {
        var host = await App.StartHostAsync(new Dictionary<string, string?> { ["RateLimits:PublicLinks:PermitLimit"] = "2" });

        for (var i = 0; i < 2; i++)
        {
            await host.Scenario(s =>
            {
                s.Get.Url("/api/consent/unknown-token");
                s.StatusCodeShouldBe(HttpStatusCode.NotFound);
            });
        }

        var limited = await host.Scenario(s =>
        {
            s.Get.Url("/api/consent/unknown-token");
            s.StatusCodeShouldBe(HttpStatusCode.TooManyRequests);
        });
        await ErrorAsync(limited, ErrorCodes.RateLimited);
    }
}
