using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Auth;
using ClinicFlow.Slices.Practice;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Practice;

public sealed class CreatePracticeTests(AppFixture app) : ApiTest(app)
{
    [Fact]
    public async Task Creates_the_practice_makes_the_user_its_admin_and_returns_a_new_token()
    {
        var solo = await RegisterWithoutClinicAsync();

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new CreatePractice.Request("Zahnarztpraxis Dr. Weiß", null, "DE", null, "+49301234567", "Hauptstraße 1"))
                .ToUrl("/api/practice");
            s.WithBearerToken(solo.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });

        var session = await result.ReadAsJsonAsync<AuthRules.Session>();
        Assert.NotEqual(solo.Token, session.Token);
        Assert.Equal(solo.UserId, session.User.Id);
        Assert.Equal("admin", session.User.Role);
        Assert.NotNull(session.Clinic);
        Assert.Equal(session.Clinic.Id, session.User.ClinicId);
        Assert.Equal("Zahnarztpraxis Dr. Weiß", session.Clinic.Name);
        Assert.Equal("Europe/Berlin", session.Clinic.Timezone);
        Assert.Equal("EUR", session.Clinic.Currency);
        Assert.Equal("de", session.Clinic.Locale);
        Assert.Equal("+49301234567", session.Clinic.Phone);
        Assert.Equal("pro", session.Clinic.Plan);
        Assert.Equal("trialing", session.Clinic.SubscriptionStatus);
        Assert.InRange(session.Clinic.SubscriptionExpiresAt!.Value, DateTimeOffset.UtcNow.AddDays(13.9), DateTimeOffset.UtcNow.AddDays(14.1));

        var user = (await App.QueryAsync<(Guid ClinicId, string Role)>(
            "select clinic_id, role from users where id = @UserId", new { solo.UserId })).Single();
        Assert.Equal((session.Clinic.Id, "admin"), user);
        var audit = await LastAuditAsync(session.Clinic.Id, "clinic.create");
        Assert.NotNull(audit);
        Assert.Equal(solo.UserId, audit.ActorId);
        Assert.Equal("user", audit.ActorType);
        Assert.Equal(session.Clinic.Id.ToString(), audit.EntityId);

        // The old token carries no clinic: the gate sees that the user's clinic changed.
        var stale = await Host.Scenario(s =>
        {
            s.Get.Url("/api/practice");
            s.WithBearerToken(solo.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Unauthorized);
        });
        await ErrorAsync(stale, ErrorCodes.Unauthenticated);

        var fresh = await Host.Scenario(s =>
        {
            s.Get.Url("/api/practice");
            s.WithBearerToken(session.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        var practice = await fresh.ReadAsJsonAsync<ClinicFlow.Slices.Clinics.GetCurrentClinic.Response>();
        Assert.Equal(session.Clinic.Id, practice.Id);
    }

    [Fact]
    public async Task Uses_country_defaults_when_only_a_name_is_given()
    {
        var solo = await RegisterWithoutClinicAsync();

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new { name = "Solo Practice" }).ToUrl("/api/practice");
            s.WithBearerToken(solo.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });

        var session = await result.ReadAsJsonAsync<AuthRules.Session>();
        Assert.Equal("US", session.Clinic!.Country);
        Assert.Equal("America/New_York", session.Clinic.Timezone);
        Assert.Equal("USD", session.Clinic.Currency);
        Assert.Equal("en", session.Clinic.Locale);
    }

    [Fact]
    public async Task Refuses_a_user_who_already_has_a_clinic_with_already_exists()
    {
        var admin = await RegisterClinicAsync();
        var before = await App.ScalarAsync<long>("select count(*) from clinics");

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new CreatePractice.Request("Second", null, null, null, null, null)).ToUrl("/api/practice");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Conflict);
        });

        await ErrorAsync(result, ErrorCodes.AlreadyExists);
        Assert.Equal(admin.ClinicId, await App.ScalarAsync<Guid>("select clinic_id from users where id = @UserId", new { admin.UserId }));
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from clinics where name = 'Second'"));
        Assert.True(await App.ScalarAsync<long>("select count(*) from clinics") >= before);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s =>
        {
            s.Post.Json(new CreatePractice.Request("X", null, null, null, null, null)).ToUrl("/api/practice");
        });
    }

    [Theory]
    [InlineData("{\"name\": \"\"}", "name")]
    [InlineData("{\"name\": \"P\", \"timezone\": \"Nowhere/Land\"}", "timezone")]
    [InlineData("{\"name\": \"P\", \"country\": \"Germany\"}", "country")]
    [InlineData("{\"name\": \"P\", \"locale\": \"it\"}", "locale")]
    public async Task Rejects_bad_input_with_details(string body, string field)
    {
        var solo = await RegisterWithoutClinicAsync();

        var result = await Host.Scenario(s =>
        {
            s.Post.Text(body).ToUrl("/api/practice");
            s.WithRequestHeader("Content-Type", "application/json");
            s.WithBearerToken(solo.Token);
            s.StatusCodeShouldBe(HttpStatusCode.BadRequest);
        });

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Contains(field, error.Details!.Keys);
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from users where id = @UserId and clinic_id is not null", new { solo.UserId }));
    }
}
