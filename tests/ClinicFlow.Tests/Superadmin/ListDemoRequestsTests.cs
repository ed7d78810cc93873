using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Superadmin;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Superadmin;

public sealed class ListDemoRequestsTests(AppFixture app) : ApiTest(app)
{
    private async Task<Guid> CreateDemoAsync(string clinicName)
    {
        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new { name = "Prospect", email = NewEmail("prospect"), clinicName }).ToUrl("/api/demo-requests");
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        return (await result.ReadAsJsonAsync<IdOnly>()).Id;
    }

    private async Task<Page<ListDemoRequests.DemoRequestItem>> ListAsync(string query)
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/superadmin/demo-requests" + query);
            s.WithRequestHeader("X-Admin-Key", AppFixture.SuperadminKey);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        return await result.ReadAsJsonAsync<Page<ListDemoRequests.DemoRequestItem>>();
    }

    private async Task<List<ListDemoRequests.DemoRequestItem>> ListAllAsync(string filter)
    {
        var items = new List<ListDemoRequests.DemoRequestItem>();
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
    public async Task Lists_demo_requests_newest_first_filtered_by_status()
    {
        var clinicName = "Demo " + Guid.NewGuid();
        var older = await CreateDemoAsync(clinicName);
        var newer = await CreateDemoAsync(clinicName);
        await App.ExecuteAsync("update demo_requests set status = 'contacted' where id = @older", new { older });

        var all = await ListAllAsync("");
        var mine = all.Where(d => d.ClinicName == clinicName).ToList();
        Assert.Equal(new[] { newer, older }, mine.Select(d => d.Id));
        Assert.Equal(all.OrderByDescending(d => d.Id).Select(d => d.Id), all.Select(d => d.Id));
        Assert.Equal("Prospect", mine[0].Name);
        Assert.False(string.IsNullOrEmpty(mine[0].Ip));

        var contacted = await ListAllAsync("&status=contacted");
        Assert.All(contacted, d => Assert.Equal("contacted", d.Status));
        Assert.Contains(contacted, d => d.Id == older);
        Assert.DoesNotContain(contacted, d => d.Id == newer);
    }

    [Fact]
    public async Task Pages_with_a_keyset_cursor()
    {
        await CreateDemoAsync("Paged A");
        await CreateDemoAsync("Paged B");

        var first = await ListAsync("?limit=1");
        Assert.Single(first.Items);
        Assert.NotNull(first.NextCursor);
        var second = await ListAsync($"?limit=1&cursor={first.NextCursor}");
        Assert.True(second.Items.Single().Id < first.Items.Single().Id);
    }

    [Theory]
    [InlineData("?status=spam", "status")]
    [InlineData("?limit=500", "limit")]
    public async Task Rejects_bad_filters_with_details(string query, string field)
    {
        await AssertInvalidAsync(field, s =>
        {
            s.Get.Url("/api/superadmin/demo-requests" + query);
            s.WithRequestHeader("X-Admin-Key", AppFixture.SuperadminKey);
        });
    }

    [Fact]
    public async Task Requires_the_admin_key()
    {
        var admin = await RegisterClinicAsync();

        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/superadmin/demo-requests");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Unauthorized);
        });

        await ErrorAsync(result, ErrorCodes.Unauthenticated);
    }

    private sealed record IdOnly(Guid Id);
}
