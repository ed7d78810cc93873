using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Auth;
using ClinicFlow.Slices.Superadmin;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Superadmin;

/// <summary>DELETE /api/superadmin/invite-codes/{code} (<see cref="RevokeInviteCode"/>).</summary>
public sealed class RevokeInviteCodeTests(AppFixture app) : ApiTest(app)
{
    private static async Task<CreateInviteCode.Response> CreateAsync(IAlbaHost host, object body)
    {
        var result = await host.Scenario(s =>
        {
            s.Post.Json(body).ToUrl("/api/superadmin/invite-codes");
            s.WithRequestHeader("X-Admin-Key", AppFixture.SuperadminKey);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        return await result.ReadAsJsonAsync<CreateInviteCode.Response>();
    }

    private static Task<IScenarioResult> RevokeAsync(IAlbaHost host, string code, HttpStatusCode expected, string? key = AppFixture.SuperadminKey) =>
        host.Scenario(s =>
        {
            s.Delete.Url($"/api/superadmin/invite-codes/{Uri.EscapeDataString(code)}");
            if (key is not null)
            {
                s.WithRequestHeader("X-Admin-Key", key);
            }

            s.StatusCodeShouldBe(expected);
        });

    [Fact]
    public async Task Revokes_a_code_and_audits_it()
    {
        var code = await CreateAsync(Host, new { });

        await RevokeAsync(Host, code.Code, HttpStatusCode.NoContent);

        var revokedAt = await App.ScalarAsync<DateTime>("select revoked_at from invite_codes where code = @Code", new { code.Code });
        Assert.InRange(revokedAt, DateTime.UtcNow.AddMinutes(-1), DateTime.UtcNow.AddMinutes(1));
        Task<IReadOnlyList<AuditRow>> AuditAsync() => App.QueryAsync<AuditRow>("""
            select action, entity_type, entity_id, actor_id, actor_type, changes::text as changes
            from audit_log where clinic_id = @Chain and entity_id = @Code and action = 'invite_code.revoke'
            """, new { Chain = Audit.PlatformChain, code.Code });
        Assert.Equal("superadmin", Assert.Single(await AuditAsync()).ActorType);

        // Revoking again is harmless: it keeps the first time and writes no second entry.
        await RevokeAsync(Host, code.Code, HttpStatusCode.NoContent);
        Assert.Equal(revokedAt, await App.ScalarAsync<DateTime>("select revoked_at from invite_codes where code = @Code", new { code.Code }));
        Assert.Single(await AuditAsync());
    }

    [Fact]
    public async Task Answers_404_for_an_unknown_code()
    {
        var result = await RevokeAsync(Host, "NO-SUCH-CODE-" + Guid.NewGuid().ToString("N")[..6], HttpStatusCode.NotFound);

        await ErrorAsync(result, ErrorCodes.NotFound);
    }

    [Fact]
    public async Task Requires_the_admin_key()
    {
        var code = await CreateAsync(Host, new { });

        await ErrorAsync(await RevokeAsync(Host, code.Code, HttpStatusCode.Unauthorized, key: null), ErrorCodes.Unauthenticated);
        await ErrorAsync(await RevokeAsync(Host, code.Code, HttpStatusCode.Unauthorized, key: "bad"), ErrorCodes.Unauthenticated);
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from invite_codes where code = @Code and revoked_at is not null", new { code.Code }));
    }

    [Fact]
    public async Task Invite_only_registration_takes_valid_codes_and_refuses_missing_revoked_and_used_up_ones()
    {
        var host = await App.StartHostAsync(new Dictionary<string, string?> { ["Auth:RequireInviteCode"] = "true" });
        var basic = await CreateAsync(host, new { maxUses = 1, plan = "basic" });
        var revoked = await CreateAsync(host, new { maxUses = 5 });
        await RevokeAsync(host, revoked.Code, HttpStatusCode.NoContent);

        Register.Request Registration(string? inviteCode) =>
            new(NewEmail("invited"), Password, "Invited", "Clínica Invitada", null, "AR", null, inviteCode);

        var account = await RegisterAsync(Registration(basic.Code), host);
        var me = await host.Scenario(s =>
        {
            s.Get.Url("/api/auth/me");
            s.WithBearerToken(account.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        Assert.Equal("basic", (await BodyAsync<GetMe.Response>(me)).Plan);

        var listed = await host.Scenario(s =>
        {
            s.Get.Url("/api/superadmin/invite-codes");
            s.WithRequestHeader("X-Admin-Key", AppFixture.SuperadminKey);
        });
        var codes = (await listed.ReadAsJsonAsync<Page<ListInviteCodes.InviteCodeItem>>()).Items.ToDictionary(c => c.Code);
        Assert.Equal((1, "used_up"), (codes[basic.Code].Uses, codes[basic.Code].Status));
        Assert.Equal((0, "revoked"), (codes[revoked.Code].Uses, codes[revoked.Code].Status));

        foreach (var inviteCode in new[] { null, revoked.Code, basic.Code, "NEVER-ISSUED" })
        {
            var refused = await host.Scenario(s =>
            {
                s.Post.Json(Registration(inviteCode)).ToUrl("/api/auth/register");
                s.StatusCodeShouldBe(HttpStatusCode.BadRequest);
            });
            var error = await ErrorAsync(refused, ErrorCodes.ValidationError);
            Assert.Contains("inviteCode", error.Details!.Keys);
        }
    }
}
