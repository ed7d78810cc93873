using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Consent;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Consent;

public sealed class RevokeConsentFormTests(AppFixture app) : ApiTest(app)
{
    [Fact]
    public async Task Revokes_a_pending_form_whose_link_then_answers_410_and_cannot_be_submitted()
    {
        var admin = await RegisterClinicAsync();
        var doctor = await AddUserAsync(admin, "doctor");
        using var key = PracticeKey.NewEc();
        var (_, form) = await Host.PatientWithFormAsync(admin, key);

        var result = await RevokeAsync(doctor, form.Token, HttpStatusCode.OK);

        var revoked = await result.ReadAsJsonAsync<RevokeConsentForm.Response>();
        Assert.Equal(form.Id, revoked.Id);
        Assert.Equal("revoked", revoked.Status);
        Assert.Equal(revoked.RevokedAt, await App.ScalarAsync<DateTimeOffset>("select revoked_at from consent_forms where id = @Id", new { form.Id }));
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "consent.revoke");
        Assert.Equal(form.Id.ToString(), audit!.EntityId);
        Assert.Equal(doctor.UserId, audit.ActorId);

        var read = await Host.Scenario(s =>
        {
            s.Get.Url($"/api/consent/{form.Token}");
            s.StatusCodeShouldBe(HttpStatusCode.Gone);
        });
        await ErrorAsync(read, ErrorCodes.LinkRevoked);
        var submit = await Host.Scenario(s =>
        {
            s.Post.Json(new { encryptedPayload = key.Encrypt("{}"), signedAt = DateTimeOffset.UtcNow }).ToUrl($"/api/consent/{form.Token}/submit");
            s.StatusCodeShouldBe(HttpStatusCode.Gone);
        });
        await ErrorAsync(submit, ErrorCodes.LinkRevoked);
        Assert.Null(await App.QueryAsync<string?>("select encrypted_payload from consent_forms where id = @Id", new { form.Id }).ContinueWith(t => t.Result.Single()));
    }

    [Fact]
    public async Task Revokes_a_submitted_form_and_keeps_its_envelope_and_a_second_revoke_changes_nothing()
    {
        var admin = await RegisterClinicAsync();
        using var key = PracticeKey.NewEc();
        var (_, form) = await Host.PatientWithFormAsync(admin, key);
        var jwe = key.Encrypt(ConsentTestData.Answers());
        await Host.SubmitAsync(form.Token, jwe);

        var first = await (await RevokeAsync(admin, form.Token, HttpStatusCode.OK)).ReadAsJsonAsync<RevokeConsentForm.Response>();
        var second = await (await RevokeAsync(admin, form.Token, HttpStatusCode.OK)).ReadAsJsonAsync<RevokeConsentForm.Response>();

        Assert.NotNull(first.SubmittedAt);
        Assert.Equal(first.RevokedAt, second.RevokedAt);
        Assert.Equal(jwe, await App.ScalarAsync<string>("select encrypted_payload from consent_forms where id = @Id", new { form.Id }));
        Assert.Equal(1, await App.ScalarAsync<int>("select count(*)::int from audit_log where clinic_id = @ClinicId and action = 'consent.revoke'", new { admin.ClinicId }));
    }

    [Fact]
    public async Task Another_clinics_admin_cannot_revoke_the_token_and_gets_404()
    {
        var owner = await RegisterClinicAsync();
        var attacker = await RegisterClinicAsync();
        using var key = PracticeKey.NewEc();
        var (_, form) = await Host.PatientWithFormAsync(owner, key);

        var result = await RevokeAsync(attacker, form.Token, HttpStatusCode.NotFound);

        await ErrorAsync(result, ErrorCodes.NotFound);
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from consent_forms where id = @Id and revoked_at is not null", new { form.Id }));
        Assert.Null(await LastAuditAsync(attacker.ClinicId!.Value, "consent.revoke"));
        await Host.SubmitAsync(form.Token, key.Encrypt("{}"));
    }

    [Fact]
    public async Task Answers_404_for_an_unknown_token()
    {
        var admin = await RegisterClinicAsync();

        await ErrorAsync(await RevokeAsync(admin, "unknown-token", HttpStatusCode.NotFound), ErrorCodes.NotFound);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Patch.Json(new { }).ToUrl("/api/consent/some-token/revoke"));
    }

    [Fact]
    public async Task Refuses_reception_staff()
    {
        await AssertRefusedForRoleAsync("staff", s => s.Patch.Json(new { }).ToUrl("/api/consent/some-token/revoke"));
    }

    private Task<IScenarioResult> RevokeAsync(Account caller, string token, HttpStatusCode status) =>
        Host.Scenario(s =>
        {
            s.Patch.Json(new { }).ToUrl($"/api/consent/{token}/revoke");
            s.WithBearerToken(caller.Token);
            s.StatusCodeShouldBe(status);
        });
}
