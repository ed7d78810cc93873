using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Superadmin;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Superadmin;

public sealed class ListInviteCodesTests(AppFixture app) : ApiTest(app)
{
    private async Task CreateAsync(string code, int maxUses = 1)
    {
        await Host.Scenario(s =>
        {
            s.Post.Json(new { code, maxUses }).ToUrl("/api/superadmin/invite-codes");
            s.WithRequestHeader("X-Admin-Key", AppFixture.SuperadminKey);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
    }

    private async Task<Page<ListInviteCodes.InviteCodeItem>> ListAsync(string query)
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/superadmin/invite-codes" + query);
            s.WithRequestHeader("X-Admin-Key", AppFixture.SuperadminKey);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        return await result.ReadAsJsonAsync<Page<ListInviteCodes.InviteCodeItem>>();
    }

    private async Task<List<ListInviteCodes.InviteCodeItem>> ListAllAsync(string filter = "")
    {
        var items = new List<ListInviteCodes.InviteCodeItem>();
        string? cursor = null;
        do
        {
            var page = await ListAsync($"?limit=200{filter}" + (cursor is null ? "" : $"&cursor={cursor}"));
            items.AddRange(page.Items);
            cursor = page.NextCursor;
        }
        while (cursor is not null);

        return items;
    }

    [Fact]
    public async Task Derives_each_codes_status()
    {
        var tag = Guid.NewGuid().ToString("N")[..8];
        string active = $"ACT-{tag}", expired = $"EXP-{tag}", revoked = $"REV-{tag}", usedUp = $"USE-{tag}";
        foreach (var code in new[] { active, expired, revoked, usedUp })
        {
            await CreateAsync(code, maxUses: 2);
        }

        await App.ExecuteAsync("update invite_codes set expires_at = now() - interval '1 minute' where code = @expired", new { expired });
        await App.ExecuteAsync("update invite_codes set uses = 2 where code = @usedUp", new { usedUp });
        await App.ExecuteAsync("update invite_codes set uses = 1 where code = @active", new { active });
        await Host.Scenario(s =>
        {
            s.Delete.Url($"/api/superadmin/invite-codes/{revoked}");
            s.WithRequestHeader("X-Admin-Key", AppFixture.SuperadminKey);
            s.StatusCodeShouldBe(HttpStatusCode.NoContent);
        });

        var mine = (await ListAllAsync()).Where(c => c.Code.EndsWith(tag, StringComparison.Ordinal)).ToDictionary(c => c.Code);

        Assert.Equal("active", mine[active].Status);
        Assert.Equal((2, 1), (mine[active].MaxUses, mine[active].Uses));
        Assert.Equal("expired", mine[expired].Status);
        Assert.Equal("revoked", mine[revoked].Status);
        Assert.NotNull(mine[revoked].RevokedAt);
        Assert.Equal("used_up", mine[usedUp].Status);
        Assert.All(mine.Values, c => Assert.Equal("pro", c.Plan));

        var onlyRevoked = await ListAllAsync("&status=revoked");
        Assert.All(onlyRevoked, c => Assert.Equal("revoked", c.Status));
        Assert.Contains(onlyRevoked, c => c.Code == revoked);
    }

    [Fact]
    public async Task Pages_newest_first_with_a_keyset_cursor()
    {
        var tag = Guid.NewGuid().ToString("N")[..8];
        await CreateAsync($"PAGE1-{tag}");
        await CreateAsync($"PAGE2-{tag}");

        var all = await ListAllAsync();
        Assert.Equal(all.OrderByDescending(c => c.CreatedAt).ThenByDescending(c => c.Code, StringComparer.Ordinal).Select(c => c.Code),
            all.Select(c => c.Code));
        Assert.Equal(all.Count, all.Select(c => c.Code).Distinct().Count());

        var first = await ListAsync("?limit=1");
        var second = await ListAsync($"?limit=1&cursor={first.NextCursor}");
        var (a, b) = (first.Items.Single(), second.Items.Single());
        Assert.True(b.CreatedAt < a.CreatedAt || (b.CreatedAt == a.CreatedAt && string.CompareOrdinal(b.Code, a.Code) < 0));
    }

    [Theory]
    [InlineData("?status=stale", "status")]
    [InlineData("?cursor=bm9waXBl", "cursor")]
    public async Task Rejects_bad_filters_with_details(string query, string field)
    {
        await AssertInvalidAsync(field, s =>
        {
            s.Get.Url("/api/superadmin/invite-codes" + query);
            s.WithRequestHeader("X-Admin-Key", AppFixture.SuperadminKey);
        });
    }

    [Fact]
    public async Task Requires_the_admin_key()
    {
        await AssertNeedsTokenAsync(s =>
        {
            s.Get.Url("/api/superadmin/invite-codes");
        });
    }
}
