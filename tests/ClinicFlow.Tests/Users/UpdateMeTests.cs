using System.Net;
using System.Text.Json;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Auth;
using ClinicFlow.Slices.Users;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Users;

public sealed class UpdateMeTests(AppFixture app) : ApiTest(app)
{
    private const string NewPassword = "a brand new passphrase";

    private sealed record Stored(string FullName, string? Phone, string Locale, string? PinHash, int TokenVersion);

    private const string StoredSql = "select full_name, phone, locale, pin_hash, token_version from users where id = @UserId";

    private Task<IScenarioResult> PatchAsync(string token, object body, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Patch.Json(body).ToUrl("/api/users/me");
            s.WithBearerToken(token);
            s.StatusCodeShouldBe(expected);
        });

    private Task<IScenarioResult> MeAsync(string token, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Get.Url("/api/auth/me");
            s.WithBearerToken(token);
            s.StatusCodeShouldBe(expected);
        });

    [Fact]
    public async Task Updates_name_phone_locale_and_pin_and_audits_field_names_only()
    {
        var admin = await RegisterClinicAsync();

        var result = await PatchAsync(admin.Token, new UpdateMe.Request("  Ada Lovelace ", "+5491122334455", "de", "4711", null, null), HttpStatusCode.OK);

        var session = await result.ReadAsJsonAsync<AuthRules.Session>();
        Assert.Equal("Ada Lovelace", session.User.FullName);
        Assert.Equal("+5491122334455", session.User.Phone);
        Assert.Equal("de", session.User.Locale);
        Assert.Equal(admin.ClinicId, session.Clinic!.Id);
        var stored = (await App.QueryAsync<Stored>(StoredSql, new { admin.UserId })).Single();
        Assert.Equal("Ada Lovelace", stored.FullName);
        Assert.Equal("de", stored.Locale);
        Assert.NotNull(stored.PinHash);
        Assert.DoesNotContain("4711", stored.PinHash, StringComparison.Ordinal);
        Assert.Equal(1, stored.TokenVersion);

        var audit = await LastAuditAsync(admin.ClinicId!.Value, "user.update_self");
        Assert.NotNull(audit);
        Assert.Equal(admin.UserId, audit.ActorId);
        Assert.Equal(admin.UserId.ToString(), audit.EntityId);
        using var changes = JsonDocument.Parse(audit.Changes);
        var fields = changes.RootElement.GetProperty("changed").EnumerateArray().Select(e => e.GetString()).ToList();
        Assert.Equal(["fullName", "phone", "locale", "pin"], fields);
        Assert.DoesNotContain("4711", audit.Changes, StringComparison.Ordinal);

        // Without a password change the old token keeps working, and the profile shows the PIN exists.
        var me = await (await MeAsync(admin.Token, HttpStatusCode.OK)).ReadAsJsonAsync<GetMe.Response>();
        Assert.True(me.HasPin);
    }

    [Fact]
    public async Task An_empty_pin_removes_it()
    {
        var admin = await RegisterClinicAsync();
        await PatchAsync(admin.Token, new { pin = "123456" }, HttpStatusCode.OK);

        await PatchAsync(admin.Token, new { pin = "" }, HttpStatusCode.OK);

        Assert.Null((await App.QueryAsync<Stored>(StoredSql, new { admin.UserId })).Single().PinHash);
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "user.update_self");
        Assert.Contains("pin", audit!.Changes, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Changing_the_password_revokes_old_tokens_and_answers_a_fresh_one()
    {
        var admin = await RegisterClinicAsync();
        var otherDevice = await LoginAsync(admin.Email, Password);

        var result = await PatchAsync(admin.Token, new UpdateMe.Request(null, null, null, null, Password, NewPassword), HttpStatusCode.OK);

        var session = await result.ReadAsJsonAsync<AuthRules.Session>();
        await ErrorAsync(await MeAsync(admin.Token, HttpStatusCode.Unauthorized), ErrorCodes.Unauthenticated);
        await ErrorAsync(await MeAsync(otherDevice.Token, HttpStatusCode.Unauthorized), ErrorCodes.Unauthenticated);
        await MeAsync(session.Token, HttpStatusCode.OK);
        await LoginAsync(admin.Email, NewPassword);
        Assert.Equal(2, (await App.QueryAsync<Stored>(StoredSql, new { admin.UserId })).Single().TokenVersion);
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "user.update_self");
        Assert.Contains("password", audit!.Changes, StringComparison.Ordinal);
        Assert.DoesNotContain(NewPassword, audit.Changes, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Refuses_a_wrong_current_password()
    {
        var admin = await RegisterClinicAsync();

        var result = await PatchAsync(admin.Token, new UpdateMe.Request("Renamed", null, null, null, "not my password", NewPassword), HttpStatusCode.BadRequest);

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Contains("currentPassword", error.Details!.Keys);
        // Nothing of the request was applied, and the token still works.
        Assert.Equal("Ada Admin", (await App.QueryAsync<Stored>(StoredSql, new { admin.UserId })).Single().FullName);
        await MeAsync(admin.Token, HttpStatusCode.OK);
        await LoginAsync(admin.Email, Password);
    }

    [Fact]
    public async Task Rejects_bad_input_with_details()
    {
        var admin = await RegisterClinicAsync();

        var result = await PatchAsync(admin.Token, new { fullName = "", locale = "fr", pin = "12a4", newPassword = "short" }, HttpStatusCode.BadRequest);

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Contains("fullName", error.Details!.Keys);
        Assert.Contains("locale", error.Details.Keys);
        Assert.Contains("pin", error.Details.Keys);
        Assert.Contains("currentPassword", error.Details.Keys);
        Assert.Contains("newPassword", error.Details.Keys);
    }

    [Fact]
    public async Task A_current_password_alone_asks_for_the_new_one()
    {
        var admin = await RegisterClinicAsync();

        var result = await PatchAsync(admin.Token, new { currentPassword = Password }, HttpStatusCode.BadRequest);

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Equal(["newPassword"], error.Details!.Keys);
    }

    [Fact]
    public async Task Works_for_a_user_without_clinic()
    {
        var solo = await RegisterWithoutClinicAsync();

        var result = await PatchAsync(solo.Token, new { fullName = "Sam Renamed", locale = "de" }, HttpStatusCode.OK);

        var session = await result.ReadAsJsonAsync<AuthRules.Session>();
        Assert.Equal("Sam Renamed", session.User.FullName);
        Assert.Null(session.Clinic);
        var audits = await App.ScalarAsync<int>(
            "select count(*)::int from audit_log where clinic_id = @Chain and action = 'user.update_self' and entity_id = @Id",
            new { Chain = Audit.PlatformChain, Id = solo.UserId.ToString() });
        Assert.Equal(1, audits);
    }

    [Fact]
    public async Task Stores_the_phone_in_E164_read_with_the_clinics_country()
    {
        var admin = await RegisterClinicAsync(country: "AR");

        var session = await (await PatchAsync(admin.Token, new { phone = "011 15-2233-4455" }, HttpStatusCode.OK))
            .ReadAsJsonAsync<AuthRules.Session>();

        Assert.Equal("+5491122334455", session.User.Phone);
        Assert.Equal("+5491122334455", (await App.QueryAsync<Stored>(StoredSql, new { admin.UserId })).Single().Phone);
    }

    [Fact]
    public async Task Rejects_a_phone_that_cannot_be_a_number()
    {
        var admin = await RegisterClinicAsync();

        await AssertInvalidAsync("phone", s =>
        {
            s.Patch.Json(new { phone = "12" }).ToUrl("/api/users/me");
            s.WithBearerToken(admin.Token);
        });
        Assert.Null((await App.QueryAsync<Stored>(StoredSql, new { admin.UserId })).Single().Phone);
    }

    [Fact]
    public async Task A_user_without_a_clinic_gives_the_international_form()
    {
        var solo = await RegisterWithoutClinicAsync();

        var session = await (await PatchAsync(solo.Token, new { phone = "+49 30 1234567" }, HttpStatusCode.OK))
            .ReadAsJsonAsync<AuthRules.Session>();
        Assert.Equal("+49301234567", session.User.Phone);

        await AssertInvalidAsync("phone", s =>
        {
            s.Patch.Json(new { phone = "030 1234567" }).ToUrl("/api/users/me");
            s.WithBearerToken(solo.Token);
        });
    }

    [Fact]
    public async Task Stays_open_when_the_subscription_expired()
    {
        var admin = await RegisterClinicAsync();
        await App.ExecuteAsync("update clinics set subscription_expires_at = now() - interval '1 day' where id = @ClinicId", new { admin.ClinicId });

        await PatchAsync(admin.Token, new { phone = "+4930123456" }, HttpStatusCode.OK);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s =>
        {
            s.Patch.Json(new { fullName = "X" }).ToUrl("/api/users/me");
        });
    }
}
