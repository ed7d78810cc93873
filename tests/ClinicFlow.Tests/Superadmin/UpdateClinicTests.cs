using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Superadmin;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Superadmin;

public sealed class UpdateClinicTests(AppFixture app) : ApiTest(app)
{
    private static UpdateClinic.Request Empty => new(null, null, null, null, null, null, null);

    private Task<IScenarioResult> PatchAsync(Guid? clinicId, object body, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Patch.Json(body).ToUrl($"/api/superadmin/clinics/{clinicId}");
            s.WithRequestHeader("X-Admin-Key", AppFixture.SuperadminKey);
            s.StatusCodeShouldBe(expected);
        });

    [Fact]
    public async Task Changes_plan_status_expiry_and_overrides_and_audits_in_the_clinics_chain()
    {
        var admin = await RegisterClinicAsync();
        var expiry = new DateTimeOffset(2030, 1, 31, 23, 59, 59, TimeSpan.Zero);

        var result = await PatchAsync(admin.ClinicId, Empty with
        {
            Plan = "enterprise",
            SubscriptionStatus = "active",
            SubscriptionExpiresAt = expiry,
            MaxDoctorsOverride = 50,
            MaxUsersOverride = 100,
        }, HttpStatusCode.OK);

        var clinic = await result.ReadAsJsonAsync<UpdateClinic.Response>();
        Assert.Equal("enterprise", clinic.Plan);
        Assert.Equal("active", clinic.SubscriptionStatus);
        Assert.Equal(expiry, clinic.SubscriptionExpiresAt);
        Assert.Equal(new UpdateClinic.Limits(50, 100), clinic.Limits);
        Assert.True(clinic.Active);

        var stored = (await App.QueryAsync<(string Plan, string Status, DateTime Expiry, int Doctors, int Users)>("""
            select plan, subscription_status, subscription_expires_at, max_doctors_override, max_users_override
            from clinics where id = @ClinicId
            """, new { admin.ClinicId })).Single();
        Assert.Equal(("enterprise", "active", expiry.UtcDateTime, 50, 100), stored);

        var audit = await LastAuditAsync(admin.ClinicId!.Value, "clinic.superadmin_update");
        Assert.NotNull(audit);
        Assert.Equal("superadmin", audit.ActorType);
        Assert.Null(audit.ActorId);
        Assert.Equal(admin.ClinicId.ToString(), audit.EntityId);
        Assert.Contains("\"plan\": {\"to\": \"enterprise\", \"from\": \"pro\"}", audit.Changes, StringComparison.Ordinal);
        Assert.DoesNotContain("active\":", audit.Changes, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Clears_limit_overrides()
    {
        var admin = await RegisterClinicAsync();
        await App.ExecuteAsync("update clinics set plan = 'basic', max_doctors_override = 4, max_users_override = 9 where id = @ClinicId",
            new { admin.ClinicId });

        var result = await PatchAsync(admin.ClinicId, new { clearLimitOverrides = true }, HttpStatusCode.OK);

        var clinic = await result.ReadAsJsonAsync<UpdateClinic.Response>();
        Assert.Null(clinic.MaxDoctorsOverride);
        Assert.Null(clinic.MaxUsersOverride);
        Assert.Equal(new UpdateClinic.Limits(2, 5), clinic.Limits);
        Assert.Equal(0, await App.ScalarAsync<int>(
            "select count(*)::int from clinics where id = @ClinicId and (max_doctors_override is not null or max_users_override is not null)",
            new { admin.ClinicId }));
    }

    [Fact]
    public async Task An_expiry_in_the_past_locks_the_clinic_out_with_402_except_on_auth_me()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync();

        await PatchAsync(admin.ClinicId, Empty with { SubscriptionExpiresAt = DateTimeOffset.UtcNow.AddDays(-1) }, HttpStatusCode.OK);

        var locked = await Host.Scenario(s =>
        {
            s.Get.Url("/api/clinics/current");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.PaymentRequired);
        });
        await ErrorAsync(locked, ErrorCodes.SubscriptionExpired);

        await Host.Scenario(s =>
        {
            s.Get.Url("/api/auth/me");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        await Host.Scenario(s =>
        {
            s.Get.Url("/api/clinics/current");
            s.WithBearerToken(other.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        // Extending it again opens the clinic.
        await PatchAsync(admin.ClinicId, Empty with { SubscriptionExpiresAt = DateTimeOffset.UtcNow.AddDays(30) }, HttpStatusCode.OK);
        await Host.Scenario(s =>
        {
            s.Get.Url("/api/clinics/current");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
    }

    [Fact]
    public async Task Deactivating_a_clinic_forbids_its_users()
    {
        var admin = await RegisterClinicAsync();

        var result = await PatchAsync(admin.ClinicId, Empty with { Active = false }, HttpStatusCode.OK);
        Assert.False((await result.ReadAsJsonAsync<UpdateClinic.Response>()).Active);

        var refused = await Host.Scenario(s =>
        {
            s.Get.Url("/api/clinics/current");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Forbidden);
        });
        await ErrorAsync(refused, ErrorCodes.Forbidden);
        Assert.False(await App.ScalarAsync<bool>("select active from clinics where id = @ClinicId", new { admin.ClinicId }));
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "clinic.superadmin_update");
        Assert.Contains("\"active\": {\"to\": false, \"from\": true}", audit!.Changes, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Answers_404_for_an_unknown_clinic()
    {
        var result = await PatchAsync(Guid.CreateVersion7(), Empty with { Plan = "basic" }, HttpStatusCode.NotFound);

        await ErrorAsync(result, ErrorCodes.NotFound);
    }

    [Theory]
    [InlineData("{\"plan\": \"gold\"}", "plan")]
    [InlineData("{\"subscriptionStatus\": \"lapsed\"}", "subscriptionStatus")]
    [InlineData("{\"maxUsersOverride\": -1}", "maxUsersOverride")]
    [InlineData("{\"maxDoctorsOverride\": 100001}", "maxDoctorsOverride")]
    [InlineData("{\"maxDoctorsOverride\": 3, \"clearLimitOverrides\": true}", "clearLimitOverrides")]
    public async Task Rejects_bad_input_with_details(string body, string field)
    {
        var admin = await RegisterClinicAsync();

        var result = await Host.Scenario(s =>
        {
            s.Patch.Text(body).ToUrl($"/api/superadmin/clinics/{admin.ClinicId}");
            s.WithRequestHeader("Content-Type", "application/json");
            s.WithRequestHeader("X-Admin-Key", AppFixture.SuperadminKey);
            s.StatusCodeShouldBe(HttpStatusCode.BadRequest);
        });

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Contains(field, error.Details!.Keys);
        Assert.Equal("pro", await App.ScalarAsync<string>("select plan from clinics where id = @ClinicId", new { admin.ClinicId }));
    }

    [Fact]
    public async Task Requires_the_admin_key_and_ignores_a_clinic_token()
    {
        var admin = await RegisterClinicAsync();

        foreach (var key in new[] { null, "wrong-key" })
        {
            var result = await Host.Scenario(s =>
            {
                s.Patch.Json(Empty with { Plan = "enterprise" }).ToUrl($"/api/superadmin/clinics/{admin.ClinicId}");
                s.WithBearerToken(admin.Token);
                if (key is not null)
                {
                    s.WithRequestHeader("X-Admin-Key", key);
                }

                s.StatusCodeShouldBe(HttpStatusCode.Unauthorized);
            });
            await ErrorAsync(result, ErrorCodes.Unauthenticated);
        }

        Assert.Equal("pro", await App.ScalarAsync<string>("select plan from clinics where id = @ClinicId", new { admin.ClinicId }));
    }
}
