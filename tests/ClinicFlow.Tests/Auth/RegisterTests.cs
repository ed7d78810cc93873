using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Auth;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Auth;

public sealed class RegisterTests(AppFixture app) : ApiTest(app)
{
    [Fact]
    public async Task Registers_user_with_clinic_as_its_admin_on_a_pro_trial()
    {
        var email = NewEmail();
        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new Register.Request(email, Password, "Dra. Núñez", "Consultorio Núñez", null, "CL", null, null))
                .ToUrl("/api/auth/register");
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });

        var session = await result.ReadAsJsonAsync<AuthRules.Session>();
        Assert.Equal(email, session.User.Email);
        Assert.Equal("admin", session.User.Role);
        Assert.NotNull(session.Clinic);
        Assert.Equal("Consultorio Núñez", session.Clinic.Name);
        Assert.Equal("America/Santiago", session.Clinic.Timezone);
        Assert.Equal("CLP", session.Clinic.Currency);
        Assert.Equal("pro", session.Clinic.Plan);
        Assert.Equal("trialing", session.Clinic.SubscriptionStatus);
        Assert.InRange(session.Clinic.SubscriptionExpiresAt!.Value, DateTimeOffset.UtcNow.AddDays(13.9), DateTimeOffset.UtcNow.AddDays(14.1));
        Assert.InRange(session.ExpiresAt, DateTimeOffset.UtcNow.AddHours(7.9), DateTimeOffset.UtcNow.AddHours(8.1));

        var stored = await App.ScalarAsync<string>("select password_hash from users where id = @Id", new { session.User.Id });
        Assert.DoesNotContain(Password, stored, StringComparison.Ordinal);
        var audit = await LastAuditAsync(session.Clinic.Id, "user.register");
        Assert.NotNull(audit);
        Assert.Equal(session.User.Id, audit.ActorId);
        Assert.DoesNotContain(Password, audit.Changes, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Registers_user_without_clinic_for_the_consent_flow()
    {
        var account = await RegisterWithoutClinicAsync();

        Assert.Null(account.ClinicId);
        var role = await App.QueryAsync<string?>("select role from users where id = @UserId", new { account.UserId });
        Assert.Null(role.Single());
    }

    [Fact]
    public async Task Rejects_duplicate_email_case_insensitively_with_already_exists()
    {
        var first = await RegisterClinicAsync();
        var otherName = "Other " + Guid.NewGuid();

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new Register.Request(first.Email.ToUpperInvariant(), Password, null, otherName, null, null, null, null))
                .ToUrl("/api/auth/register");
            s.StatusCodeShouldBe(HttpStatusCode.Conflict);
        });

        await ErrorAsync(result, ErrorCodes.AlreadyExists);
        // One transaction: the clinic created before the duplicate user was refused is gone too.
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from clinics where name = @otherName", new { otherName }));
        Assert.Equal(1, await App.ScalarAsync<int>("select count(*)::int from users where email = @Email", new { first.Email }));
    }

    [Theory]
    [InlineData("not-an-email", Password, "email")]
    [InlineData("ok@test.clinicflow.local", "short", "password")]
    [InlineData("ok@test.clinicflow.local", "password123", "password")]
    public async Task Rejects_bad_input_with_details(string email, string password, string field)
    {
        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new Register.Request(email, password, null, null, null, null, null, null)).ToUrl("/api/auth/register");
            s.StatusCodeShouldBe(HttpStatusCode.BadRequest);
        });

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.NotNull(error.Details);
        Assert.Contains(field, error.Details.Keys);
    }

    [Fact]
    public async Task Rejects_unknown_time_zone()
    {
        await AssertInvalidAsync("timezone", s =>
        {
            s.Post.Json(new Register.Request(NewEmail(), Password, null, "X", "Mars/Olympus", null, null, null)).ToUrl("/api/auth/register");
        });
    }

    [Fact]
    public async Task Answers_malformed_json_with_invalid_json()
    {
        var result = await Host.Scenario(s =>
        {
            s.Post.Text("{ \"email\": ").ToUrl("/api/auth/register");
            s.WithRequestHeader("Content-Type", "application/json");
            s.StatusCodeShouldBe(HttpStatusCode.BadRequest);
        });

        await ErrorAsync(result, ErrorCodes.InvalidJson);
    }
}
