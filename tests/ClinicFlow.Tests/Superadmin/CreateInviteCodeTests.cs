using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Superadmin;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Superadmin;

public sealed class CreateInviteCodeTests(AppFixture app) : ApiTest(app)
{
    private Task<IScenarioResult> PostAsync(object body, HttpStatusCode expected, string? key = AppFixture.SuperadminKey) =>
        Host.Scenario(s =>
        {
            s.Post.Json(body).ToUrl("/api/superadmin/invite-codes");
            if (key is not null)
            {
                s.WithRequestHeader("X-Admin-Key", key);
            }

            s.StatusCodeShouldBe(expected);
        });

    [Fact]
    public async Task Generates_a_code_with_the_defaults()
    {
        var result = await PostAsync(new { }, HttpStatusCode.Created);

        var code = await result.ReadAsJsonAsync<CreateInviteCode.Response>();
        Assert.Matches("^[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{12}$", code.Code);
        Assert.Equal(1, code.MaxUses);
        Assert.Equal(0, code.Uses);
        Assert.Equal("pro", code.Plan);
        Assert.Null(code.ExpiresAt);
        Assert.Null(code.RevokedAt);
        Assert.Equal("active", code.Status);
        Assert.Equal(1, await App.ScalarAsync<int>(
            "select count(*)::int from invite_codes where code = @Code and max_uses = 1 and plan = 'pro'", new { code.Code }));
    }

    [Fact]
    public async Task Stores_a_given_code_with_its_options_and_audits_it_in_the_platform_chain()
    {
        var given = "SPRING-" + Guid.NewGuid().ToString("N")[..8];
        var expiresAt = new DateTimeOffset(2031, 6, 30, 12, 0, 0, TimeSpan.Zero);

        var result = await PostAsync(new CreateInviteCode.Request(given, 25, expiresAt, "basic"), HttpStatusCode.Created);

        var code = await result.ReadAsJsonAsync<CreateInviteCode.Response>();
        Assert.Equal((given, 25, expiresAt, "basic"), (code.Code, code.MaxUses, code.ExpiresAt!.Value, code.Plan));
        Assert.Equal("basic", await App.ScalarAsync<string>("select plan from invite_codes where code = @given", new { given }));
        var audit = (await App.QueryAsync<AuditRow>("""
            select action, entity_type, entity_id, actor_id, actor_type, changes::text as changes
            from audit_log where clinic_id = @Chain and entity_id = @given and action = 'invite_code.create'
            """, new { Chain = Audit.PlatformChain, given })).Single();
        Assert.Equal("superadmin", audit.ActorType);
        Assert.Equal("invite_code", audit.EntityType);
    }

    [Fact]
    public async Task Refuses_a_duplicate_code_with_already_exists()
    {
        var given = "DUP-" + Guid.NewGuid().ToString("N")[..8];
        await PostAsync(new { code = given }, HttpStatusCode.Created);

        var result = await PostAsync(new { code = given, maxUses = 5 }, HttpStatusCode.Conflict);

        await ErrorAsync(result, ErrorCodes.AlreadyExists);
        Assert.Equal(1, await App.ScalarAsync<int>("select max_uses from invite_codes where code = @given", new { given }));
    }

    [Theory]
    [InlineData("{\"maxUses\": 0}", "maxUses")]
    [InlineData("{\"maxUses\": 10001}", "maxUses")]
    [InlineData("{\"plan\": \"gold\"}", "plan")]
    [InlineData("{\"code\": \"has space\"}", "code")]
    [InlineData("{\"code\": \"abc\"}", "code")]
    [InlineData("{\"expiresAt\": \"2020-01-01T00:00:00Z\"}", "expiresAt")]
    public async Task Rejects_bad_input_with_details(string body, string field)
    {
        await AssertInvalidAsync(field, s =>
        {
            s.Post.Text(body).ToUrl("/api/superadmin/invite-codes");
            s.WithRequestHeader("Content-Type", "application/json");
            s.WithRequestHeader("X-Admin-Key", AppFixture.SuperadminKey);
        });
    }

    [Fact]
    public async Task Requires_the_admin_key()
    {
        var given = "NOKEY-" + Guid.NewGuid().ToString("N")[..8];

        await ErrorAsync(await PostAsync(new { code = given }, HttpStatusCode.Unauthorized, key: null), ErrorCodes.Unauthenticated);
        await ErrorAsync(await PostAsync(new { code = given }, HttpStatusCode.Unauthorized, key: "wrong"), ErrorCodes.Unauthenticated);
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from invite_codes where code = @given", new { given }));
    }
}
