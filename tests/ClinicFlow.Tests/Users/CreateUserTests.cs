using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Users;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Users;

public sealed class CreateUserTests(AppFixture app) : ApiTest(app)
{
    [Fact]
    public async Task Creates_user_in_the_admins_clinic_and_audits_it()
    {
        var admin = await RegisterClinicAsync();
        var email = NewEmail("doc");

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new CreateUser.Request(email, "Dr. House", AppRole.Doctor, Password, "011 15-2233-4455", "es")).ToUrl("/api/users");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });

        var user = await result.ReadAsJsonAsync<CreateUser.Response>();
        Assert.Equal("doctor", user.Role);
        Assert.Equal(admin.ClinicId, user.ClinicId);
        Assert.Equal("+5491122334455", user.Phone);
        Assert.Equal(admin.ClinicId, await App.ScalarAsync<Guid>("select clinic_id from users where id = @Id", new { user.Id }));
        Assert.Equal("+5491122334455", await App.ScalarAsync<string>("select phone from users where id = @Id", new { user.Id }));
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "user.create");
        Assert.Equal(user.Id.ToString(), audit!.EntityId);
        Assert.Equal(admin.UserId, audit.ActorId);

        var doctor = await LoginAsync(email, Password);
        Assert.Equal(admin.ClinicId, doctor.ClinicId);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s =>
        {
            s.Post.Json(new CreateUser.Request(NewEmail(), "X", AppRole.Staff, Password, null, null)).ToUrl("/api/users");
        });
    }

    [Theory]
    [InlineData("doctor")]
    [InlineData("staff")]
    public async Task Refuses_non_admins(string role)
    {
        await AssertRefusedForRoleAsync(role, s =>
        {
            s.Post.Json(new CreateUser.Request(NewEmail(), "X", AppRole.Staff, Password, null, null)).ToUrl("/api/users");
        });
    }

    [Fact]
    public async Task Rejects_bad_input_with_details()
    {
        var admin = await RegisterClinicAsync();

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new { email = "nope", fullName = "", role = "admin", password = "short" }).ToUrl("/api/users");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.BadRequest);
        });

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Contains("email", error.Details!.Keys);
        Assert.Contains("fullName", error.Details.Keys);
        Assert.Contains("password", error.Details.Keys);
    }

    [Fact]
    public async Task Refuses_an_existing_email_with_already_exists()
    {
        var admin = await RegisterClinicAsync();

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new CreateUser.Request(admin.Email, "Twin", AppRole.Staff, Password, null, null)).ToUrl("/api/users");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Conflict);
        });

        await ErrorAsync(result, ErrorCodes.AlreadyExists);
    }

    [Fact]
    public async Task Stops_at_the_basic_plans_five_users()
    {
        var admin = await RegisterClinicAsync();
        await App.ExecuteAsync("update clinics set plan = 'basic' where id = @ClinicId", new { admin.ClinicId });
        for (var i = 0; i < 4; i++)
        {
            await AddUserAsync(admin, "staff");
        }

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new CreateUser.Request(NewEmail(), "Sixth", AppRole.Staff, Password, null, null)).ToUrl("/api/users");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Forbidden);
        });

        await ErrorAsync(result, ErrorCodes.UserLimitReached);
        Assert.Equal(5, await App.ScalarAsync<int>("select count(*)::int from users where clinic_id = @ClinicId", new { admin.ClinicId }));
    }

    [Fact]
    public async Task Lets_only_one_of_concurrent_creations_take_the_last_place()
    {
        var admin = await RegisterClinicAsync();
        await App.ExecuteAsync("update clinics set plan = 'basic' where id = @ClinicId", new { admin.ClinicId });
        for (var i = 0; i < 3; i++)
        {
            await AddUserAsync(admin, "staff");
        }

        var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(i => Host.Scenario(s =>
        {
            s.Post.Json(new CreateUser.Request(NewEmail(), $"Racer {i}", AppRole.Staff, Password, null, null)).ToUrl("/api/users");
            s.WithBearerToken(admin.Token);
            s.IgnoreStatusCode();
        })));

        Assert.Equal([201, 403, 403, 403], results.Select(r => r.Context.Response.StatusCode).Order());
        Assert.Equal(5, await App.ScalarAsync<int>("select count(*)::int from users where clinic_id = @ClinicId and active", new { admin.ClinicId }));
    }
}
