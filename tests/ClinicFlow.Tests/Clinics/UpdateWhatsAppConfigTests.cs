using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Clinics;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Clinics;

/// <summary>UpdateWhatsAppConfig: the token sealed at rest and never echoed; one clinic per phone number id.</summary>
public sealed class UpdateWhatsAppConfigTests(AppFixture app) : WhatsAppTest(app)
{
    private const string Url = "/api/clinics/current/whatsapp";

    [Fact]
    public async Task Stores_the_config_with_the_token_sealed_and_audits_without_it()
    {
        var admin = await RegisterClinicAsync();
        var phoneNumberId = NewPhoneNumberId();

        var result = await Host.Scenario(s =>
        {
            s.Put.Json(new UpdateWhatsAppConfig.Request(phoneNumberId, "998877", AccessToken, true)).ToUrl(Url);
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var text = await result.ReadAsTextAsync();
        Assert.DoesNotContain(AccessToken, text, StringComparison.Ordinal);
        var config = await result.ReadAsJsonAsync<UpdateWhatsAppConfig.Response>();
        Assert.Equal(phoneNumberId, config.PhoneNumberId);
        Assert.True(config.Enabled);
        Assert.True(config.HasAccessToken);

        var sealedToken = await App.ScalarAsync<string>("select access_token_sealed from whatsapp_configs where clinic_id = @ClinicId",
            new { admin.ClinicId });
        Assert.DoesNotContain(AccessToken, sealedToken, StringComparison.Ordinal);
        Assert.StartsWith("v1.", sealedToken, StringComparison.Ordinal);
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "whatsapp.update");
        Assert.NotNull(audit);
        Assert.Equal(admin.UserId, audit.ActorId);
        Assert.Contains("accessToken", audit.Changes, StringComparison.Ordinal);
        Assert.DoesNotContain(AccessToken, audit.Changes, StringComparison.Ordinal);
        Assert.DoesNotContain(sealedToken, audit.Changes, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Keeps_the_stored_token_when_none_is_sent_and_writes_no_audit_for_no_change()
    {
        var admin = await RegisterClinicAsync();
        var phoneNumberId = await EnableWhatsAppAsync(admin);
        var before = await App.ScalarAsync<string>("select access_token_sealed from whatsapp_configs where clinic_id = @ClinicId",
            new { admin.ClinicId });
        var audits = await App.ScalarAsync<int>("select count(*)::int from audit_log where clinic_id = @ClinicId and action = 'whatsapp.update'",
            new { admin.ClinicId });

        await Host.Scenario(s =>
        {
            s.Put.Json(new UpdateWhatsAppConfig.Request(phoneNumberId, "2233445566", null, true)).ToUrl(Url);
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        await Host.Scenario(s =>
        {
            s.Put.Json(new UpdateWhatsAppConfig.Request(phoneNumberId, "2233445566", null, false)).ToUrl(Url);
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        Assert.Equal(before, await App.ScalarAsync<string>("select access_token_sealed from whatsapp_configs where clinic_id = @ClinicId",
            new { admin.ClinicId }));
        Assert.False(await App.ScalarAsync<bool>("select enabled from whatsapp_configs where clinic_id = @ClinicId", new { admin.ClinicId }));
        Assert.Equal(audits + 1, await App.ScalarAsync<int>(
            "select count(*)::int from audit_log where clinic_id = @ClinicId and action = 'whatsapp.update'", new { admin.ClinicId }));
    }

    [Fact]
    public async Task Requires_an_access_token_the_first_time()
    {
        var admin = await RegisterClinicAsync();

        await AssertInvalidAsync("accessToken", s =>
        {
            s.Put.Json(new UpdateWhatsAppConfig.Request(NewPhoneNumberId(), "1", null, true)).ToUrl(Url);
            s.WithBearerToken(admin.Token);
        });
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from whatsapp_configs where clinic_id = @ClinicId", new { admin.ClinicId }));
    }

    [Fact]
    public async Task Rejects_ids_that_are_not_digits()
    {
        var admin = await RegisterClinicAsync();

        await AssertInvalidAsync("phoneNumberId", s =>
        {
            s.Put.Json(new UpdateWhatsAppConfig.Request("12ab", "1", AccessToken, true)).ToUrl(Url);
            s.WithBearerToken(admin.Token);
        });
    }

    [Fact]
    public async Task Refuses_a_phone_number_id_of_another_clinic()
    {
        var other = await RegisterClinicAsync();
        var taken = await EnableWhatsAppAsync(other);
        var admin = await RegisterClinicAsync();

        var result = await Host.Scenario(s =>
        {
            s.Put.Json(new UpdateWhatsAppConfig.Request(taken, "1", AccessToken, true)).ToUrl(Url);
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Conflict);
        });

        await ErrorAsync(result, ErrorCodes.AlreadyExists);
        Assert.Equal(other.ClinicId, await App.ScalarAsync<Guid>("select clinic_id from whatsapp_configs where phone_number_id = @taken", new { taken }));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Put.Json(new UpdateWhatsAppConfig.Request("1", "1", "t", true)).ToUrl(Url));
    }

    [Fact]
    public async Task Refuses_non_admins()
    {
        await AssertRefusedForRoleAsync("doctor", s => s.Put.Json(new UpdateWhatsAppConfig.Request("1", "1", "t", true)).ToUrl(Url));
    }
}
