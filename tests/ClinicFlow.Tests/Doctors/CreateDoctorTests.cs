using System.Net;
using System.Text.Json;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Doctors;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Doctors;

public sealed class CreateDoctorTests(AppFixture app) : SchedulingTest(app)
{
    private sealed record Stored(Guid ClinicId, string FullName, string? Specialty, string? Email, string? Phone, Guid? UserId,
        bool Active, string? Color, int SlotMinutes);

    private const string StoredSql = """
        select clinic_id, full_name, specialty, email::text as email, phone, user_id, active, color, slot_minutes
        from doctors where id = @Id
        """;

    private Task<IScenarioResult> PostAsync(Account caller, object body, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Post.Json(body).ToUrl("/api/doctors");
            s.WithBearerToken(caller.Token);
            s.StatusCodeShouldBe(expected);
        });

    private Task<int> CountAsync(Guid? clinicId) =>
        App.ScalarAsync<int>("select count(*)::int from doctors where clinic_id = @clinicId", new { clinicId });

    private Task UsePlanAsync(Guid? clinicId, string plan, int? maxDoctorsOverride = null) =>
        App.ExecuteAsync("update clinics set plan = @plan, max_doctors_override = @maxDoctorsOverride where id = @clinicId",
            new { plan, maxDoctorsOverride, clinicId });

    [Fact]
    public async Task Creates_a_linked_doctor_with_normalised_phone_and_colour_and_audits_field_names_only()
    {
        var admin = await RegisterClinicAsync();
        var user = await AddUserAsync(admin, "doctor");

        var result = await PostAsync(admin, new CreateDoctor.Request("  Dra. Ana Núñez ", "Odontología", "ana@example.com",
            "011 2233-4455", "#A1B2C3", user.UserId), HttpStatusCode.Created);

        var doctor = await result.ReadAsJsonAsync<CreateDoctor.Response>();
        Assert.Equal($"/api/doctors/{doctor.Id}", result.Context.Response.Headers.Location.ToString());
        Assert.Equal("Dra. Ana Núñez", doctor.FullName);
        Assert.Equal("Odontología", doctor.Specialty);
        Assert.Equal("ana@example.com", doctor.Email);
        Assert.Equal("+541122334455", doctor.Phone);
        Assert.Equal(user.UserId, doctor.UserId);
        Assert.True(doctor.Active);
        Assert.Equal("#a1b2c3", doctor.Color);
        Assert.Equal(
            new Stored(admin.ClinicId!.Value, "Dra. Ana Núñez", "Odontología", "ana@example.com", "+541122334455", user.UserId, true,
                "#a1b2c3", 30),
            (await App.QueryAsync<Stored>(StoredSql, new { doctor.Id })).Single());

        var audit = await LastAuditAsync(admin.ClinicId.Value, "doctor.create");
        Assert.NotNull(audit);
        Assert.Equal("doctor", audit.EntityType);
        Assert.Equal(doctor.Id.ToString(), audit.EntityId);
        Assert.Equal(admin.UserId, audit.ActorId);
        using var changes = JsonDocument.Parse(audit.Changes);
        Assert.Equal(["fullName", "specialty", "email", "phone", "userId", "color"],
            changes.RootElement.GetProperty("fields").EnumerateArray().Select(f => f.GetString()));
        Assert.DoesNotContain("Núñez", audit.Changes, StringComparison.Ordinal);
        Assert.DoesNotContain("ana@example.com", audit.Changes, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Creates_a_doctor_with_only_a_name()
    {
        var admin = await RegisterClinicAsync();

        var result = await PostAsync(admin, new { fullName = "Dr. Solo", specialty = "", email = " ", phone = "", color = "" },
            HttpStatusCode.Created);

        var doctor = await result.ReadAsJsonAsync<CreateDoctor.Response>();
        Assert.Equal(
            new Stored(admin.ClinicId!.Value, "Dr. Solo", null, null, null, null, true, null, 30),
            (await App.QueryAsync<Stored>(StoredSql, new { doctor.Id })).Single());
        var audit = await LastAuditAsync(admin.ClinicId.Value, "doctor.create");
        using var changes = JsonDocument.Parse(audit!.Changes);
        Assert.Equal(["fullName"], changes.RootElement.GetProperty("fields").EnumerateArray().Select(f => f.GetString()));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Post.Json(new { fullName = "X" }).ToUrl("/api/doctors"));
    }

    [Theory]
    [InlineData("doctor")]
    [InlineData("staff")]
    public async Task Refuses_non_admins(string role)
    {
        await AssertRefusedForRoleAsync(role, s => s.Post.Json(new { fullName = "X" }).ToUrl("/api/doctors"));
    }

    [Fact]
    public async Task Rejects_bad_input_with_details_and_inserts_nothing()
    {
        var admin = await RegisterClinicAsync();

        var result = await PostAsync(admin, new
        {
            fullName = "",
            specialty = new string('s', 201),
            email = "nope",
            phone = new string('1', 41),
            color = "red",
            userId = Guid.Empty,
        }, HttpStatusCode.BadRequest);

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Equal(["color", "email", "fullName", "phone", "specialty", "userId"], error.Details!.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(0, await CountAsync(admin.ClinicId));
    }

    [Theory]
    [InlineData("#12345")]
    [InlineData("#1234567")]
    [InlineData("123456")]
    [InlineData("#12345g")]
    public async Task Rejects_a_colour_that_is_not_rrggbb(string color)
    {
        var admin = await RegisterClinicAsync();

        await AssertInvalidAsync("color", s =>
        {
            s.Post.Json(new { fullName = "X", color }).ToUrl("/api/doctors");
            s.WithBearerToken(admin.Token);
        });
    }

    [Fact]
    public async Task Rejects_an_overlong_name_and_a_missing_one()
    {
        var admin = await RegisterClinicAsync();

        await AssertInvalidAsync("fullName", s =>
        {
            s.Post.Json(new { fullName = new string('n', 201) }).ToUrl("/api/doctors");
            s.WithBearerToken(admin.Token);
        });
        await AssertInvalidAsync("fullName", s =>
        {
            s.Post.Json(new { specialty = "x" }).ToUrl("/api/doctors");
            s.WithBearerToken(admin.Token);
        });
    }

    [Fact]
    public async Task Rejects_a_phone_that_is_not_a_number()
    {
        var admin = await RegisterClinicAsync();

        var error = await AssertInvalidAsync("phone", s =>
        {
            s.Post.Json(new { fullName = "X", phone = "12" }).ToUrl("/api/doctors");
            s.WithBearerToken(admin.Token);
        });

        Assert.Equal(["phone"], error.Details!.Keys);
        Assert.Equal(0, await CountAsync(admin.ClinicId));
    }

    [Fact]
    public async Task Keeps_an_international_phone_of_another_country()
    {
        var admin = await RegisterClinicAsync();

        var doctor = await (await PostAsync(admin, new { fullName = "Dr. Hans", phone = "+49 30 1234567" }, HttpStatusCode.Created))
            .ReadAsJsonAsync<CreateDoctor.Response>();

        Assert.Equal("+49301234567", doctor.Phone);
    }

    [Fact]
    public async Task Hides_a_user_of_another_clinic_or_an_unknown_one()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync("Other clinic");
        var theirs = await AddUserAsync(other, "doctor");

        await ErrorAsync(await PostAsync(admin, new { fullName = "X", userId = theirs.UserId }, HttpStatusCode.NotFound), ErrorCodes.NotFound);
        await ErrorAsync(await PostAsync(admin, new { fullName = "X", userId = Guid.CreateVersion7() }, HttpStatusCode.NotFound),
            ErrorCodes.NotFound);

        Assert.Equal(0, await CountAsync(admin.ClinicId));
        Assert.Equal(0, await CountAsync(other.ClinicId));
    }

    [Theory]
    [InlineData("staff")]
    [InlineData("admin")]
    public async Task Refuses_to_link_a_user_whose_role_is_not_doctor(string role)
    {
        var admin = await RegisterClinicAsync();
        var user = await AddUserAsync(admin, role);

        await AssertInvalidAsync("userId", s =>
        {
            s.Post.Json(new { fullName = "X", userId = user.UserId }).ToUrl("/api/doctors");
            s.WithBearerToken(admin.Token);
        });

        Assert.Equal(0, await CountAsync(admin.ClinicId));
    }

    [Fact]
    public async Task Refuses_to_link_an_inactive_doctor_user()
    {
        var admin = await RegisterClinicAsync();
        var user = await AddUserAsync(admin, "doctor");
        await App.ExecuteAsync("update users set active = false where id = @UserId", new { user.UserId });

        await AssertInvalidAsync("userId", s =>
        {
            s.Post.Json(new { fullName = "X", userId = user.UserId }).ToUrl("/api/doctors");
            s.WithBearerToken(admin.Token);
        });
    }

    [Fact]
    public async Task Refuses_to_link_a_user_twice()
    {
        var admin = await RegisterClinicAsync();
        var user = await AddUserAsync(admin, "doctor");
        await PostAsync(admin, new { fullName = "First", userId = user.UserId }, HttpStatusCode.Created);

        var result = await PostAsync(admin, new { fullName = "Second", userId = user.UserId }, HttpStatusCode.Conflict);

        await ErrorAsync(result, ErrorCodes.AlreadyExists);
        Assert.Equal(["First"], await App.QueryAsync<string>(
            "select full_name from doctors where clinic_id = @ClinicId", new { admin.ClinicId }));
    }

    [Fact]
    public async Task Stops_at_the_basic_plans_two_active_doctors_and_inserts_nothing()
    {
        var admin = await RegisterClinicAsync();
        await UsePlanAsync(admin.ClinicId, "basic");

        await PostAsync(admin, new { fullName = "One" }, HttpStatusCode.Created);
        await PostAsync(admin, new { fullName = "Two" }, HttpStatusCode.Created);
        var result = await PostAsync(admin, new { fullName = "Three" }, HttpStatusCode.Forbidden);

        await ErrorAsync(result, ErrorCodes.DoctorLimitReached);
        Assert.Equal(2, await CountAsync(admin.ClinicId));
        Assert.Equal(2, await App.ScalarAsync<int>(
            "select count(*)::int from audit_log where clinic_id = @ClinicId and action = 'doctor.create'", new { admin.ClinicId }));
    }

    [Fact]
    public async Task Does_not_count_inactive_doctors_against_the_limit()
    {
        var admin = await RegisterClinicAsync();
        await UsePlanAsync(admin.ClinicId, "basic");
        await InsertDoctorAsync(admin.ClinicId, "Active");
        await InsertDoctorAsync(admin.ClinicId, "Gone 1", active: false);
        await InsertDoctorAsync(admin.ClinicId, "Gone 2", active: false);

        await PostAsync(admin, new { fullName = "Second active" }, HttpStatusCode.Created);

        Assert.Equal(2, await App.ScalarAsync<int>(
            "select count(*)::int from doctors where clinic_id = @ClinicId and active", new { admin.ClinicId }));
    }

    [Fact]
    public async Task Honours_a_superadmin_override_of_the_doctor_limit()
    {
        var admin = await RegisterClinicAsync();
        await UsePlanAsync(admin.ClinicId, "basic", maxDoctorsOverride: 3);
        await InsertDoctorAsync(admin.ClinicId, "One");
        await InsertDoctorAsync(admin.ClinicId, "Two");

        await PostAsync(admin, new { fullName = "Three" }, HttpStatusCode.Created);
        await ErrorAsync(await PostAsync(admin, new { fullName = "Four" }, HttpStatusCode.Forbidden), ErrorCodes.DoctorLimitReached);

        await UsePlanAsync(admin.ClinicId, "pro", maxDoctorsOverride: 1);
        await ErrorAsync(await PostAsync(admin, new { fullName = "Five" }, HttpStatusCode.Forbidden), ErrorCodes.DoctorLimitReached);
        Assert.Equal(3, await CountAsync(admin.ClinicId));
    }

    [Fact]
    public async Task Sets_no_doctor_limit_on_enterprise()
    {
        var admin = await RegisterClinicAsync();
        await UsePlanAsync(admin.ClinicId, "enterprise");
        for (var i = 0; i < 11; i++)
        {
            await InsertDoctorAsync(admin.ClinicId, $"Doctor {i}");
        }

        await PostAsync(admin, new { fullName = "Twelfth" }, HttpStatusCode.Created);

        Assert.Equal(12, await CountAsync(admin.ClinicId));
    }

    [Fact]
    public async Task Lets_only_one_of_two_concurrent_creations_take_the_last_place()
    {
        var admin = await RegisterClinicAsync();
        await UsePlanAsync(admin.ClinicId, "basic");
        await InsertDoctorAsync(admin.ClinicId, "One");

        var results = await Task.WhenAll(Enumerable.Range(0, 2).Select(i => Host.Scenario(s =>
        {
            s.Post.Json(new { fullName = $"Racer {i}" }).ToUrl("/api/doctors");
            s.WithBearerToken(admin.Token);
            s.IgnoreStatusCode();
        })));

        Assert.Equal([201, 403], results.Select(r => r.Context.Response.StatusCode).Order());
        Assert.Equal(2, await CountAsync(admin.ClinicId));
    }
}
