using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Auth;
using ClinicFlow.Slices.Users;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Users;

public sealed class QuickSwitchTests(AppFixture app) : ApiTest(app)
{
    private const string Pin = "4711";

    private async Task SetPinAsync(Account account, string pin) =>
        await Host.Scenario(s =>
        {
            s.Patch.Json(new { pin }).ToUrl("/api/users/me");
            s.WithBearerToken(account.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

    private Task<IScenarioResult> SwitchAsync(Account caller, object body, HttpStatusCode expected, IAlbaHost? host = null) =>
        (host ?? Host).Scenario(s =>
        {
            s.Post.Json(body).ToUrl("/api/users/quick-switch");
            s.WithBearerToken(caller.Token);
            s.StatusCodeShouldBe(expected);
        });

    [Fact]
    public async Task Switches_to_a_user_of_the_clinic_with_their_pin()
    {
        var admin = await RegisterClinicAsync();
        var staff = await AddUserAsync(admin, "staff");
        await SetPinAsync(staff, Pin);

        var result = await SwitchAsync(admin, new QuickSwitch.Request(staff.UserId, Pin), HttpStatusCode.OK);

        var session = await result.ReadAsJsonAsync<AuthRules.Session>();
        Assert.Equal(staff.UserId, session.User.Id);
        Assert.Equal("staff", session.User.Role);
        Assert.Equal(admin.ClinicId, session.Clinic!.Id);
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "user.quick_switch");
        Assert.NotNull(audit);
        Assert.Equal(admin.UserId, audit.ActorId);
        Assert.Equal(staff.UserId.ToString(), audit.EntityId);
        Assert.DoesNotContain(Pin, audit.Changes, StringComparison.Ordinal);

        // The new token acts as the target user: staff may not list users.
        await Host.Scenario(s =>
        {
            s.Get.Url("/api/users");
            s.WithBearerToken(session.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Forbidden);
        });
    }

    [Fact]
    public async Task Refuses_a_wrong_pin()
    {
        var admin = await RegisterClinicAsync();
        var staff = await AddUserAsync(admin, "staff");
        await SetPinAsync(staff, Pin);

        var result = await SwitchAsync(admin, new QuickSwitch.Request(staff.UserId, "0000"), HttpStatusCode.Unauthorized);

        await ErrorAsync(result, ErrorCodes.InvalidCredentials);
        Assert.Null(await LastAuditAsync(admin.ClinicId!.Value, "user.quick_switch"));
    }

    [Fact]
    public async Task Answers_every_refusal_alike()
    {
        var admin = await RegisterClinicAsync();
        var noPin = await AddUserAsync(admin, "doctor");
        var inactive = await AddUserAsync(admin, "staff");
        await SetPinAsync(inactive, Pin);
        await App.ExecuteAsync("update users set active = false where id = @UserId", new { inactive.UserId });
        var other = await RegisterClinicAsync("Other clinic");
        var foreign = await AddUserAsync(other, "staff");
        await SetPinAsync(foreign, Pin);

        var errors = new List<ApiError>();
        foreach (var target in new[] { noPin.UserId, inactive.UserId, foreign.UserId, Guid.CreateVersion7() })
        {
            var result = await SwitchAsync(admin, new QuickSwitch.Request(target, Pin), HttpStatusCode.Unauthorized);
            errors.Add(await ErrorAsync(result, ErrorCodes.InvalidCredentials));
        }

        Assert.Single(errors.Select(e => e with { RequestId = null }).Distinct());
    }

    [Fact]
    public async Task Blocks_an_ip_after_too_many_wrong_pins()
    {
        var host = await App.StartHostAsync(new Dictionary<string, string?> { ["RateLimits:FailedAuth:PermitLimit"] = "2" });
        var admin = await RegisterClinicAsync(host: host);
        var body = new QuickSwitch.Request(Guid.CreateVersion7(), Pin);
        await SwitchAsync(admin, body, HttpStatusCode.Unauthorized, host);
        await SwitchAsync(admin, body, HttpStatusCode.Unauthorized, host);

        var result = await SwitchAsync(admin, body, HttpStatusCode.TooManyRequests, host);

        await ErrorAsync(result, ErrorCodes.RateLimited);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s =>
        {
            s.Post.Json(new QuickSwitch.Request(Guid.CreateVersion7(), Pin)).ToUrl("/api/users/quick-switch");
        });
    }

    [Fact]
    public async Task Rejects_bad_input_with_details()
    {
        var admin = await RegisterClinicAsync();

        var result = await SwitchAsync(admin, new { pin = "" }, HttpStatusCode.BadRequest);

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Contains("userId", error.Details!.Keys);
        Assert.Contains("pin", error.Details.Keys);
    }
}
