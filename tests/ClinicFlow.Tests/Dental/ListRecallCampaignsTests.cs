using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Dental;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Dental;

/// <summary>ListRecallCampaigns: the clinic's campaigns with their counts, never another clinic's.</summary>
public sealed class ListRecallCampaignsTests(AppFixture app) : WhatsAppTest(app)
{
    private async Task<Guid> CreateAsync(Account admin, string name)
    {
        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new CreateRecallCampaign.Request(name, 6, "Hola")).ToUrl("/api/dental/recall-campaigns");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        return (await result.ReadAsJsonAsync<CreateRecallCampaign.Response>()).Id;
    }

    [Fact]
    public async Task Lists_the_clinics_campaigns_with_counts_and_paging()
    {
        var other = await RegisterClinicAsync();
        await EnableWhatsAppAsync(other);
        await CreateAsync(other, "Ajena");
        var admin = await RegisterClinicAsync();
        await EnableWhatsAppAsync(admin);
        await RecallCampaignTestData.ArrangeAsync(App, admin.ClinicId!.Value);
        var first = await CreateAsync(admin, "Primera");
        var second = await CreateAsync(admin, "Segunda");

        var page = await (await Host.Scenario(s =>
        {
            s.Get.Url("/api/dental/recall-campaigns?limit=1");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        })).ReadAsJsonAsync<Page<ListRecallCampaigns.Response>>();
        var next = await (await Host.Scenario(s =>
        {
            s.Get.Url($"/api/dental/recall-campaigns?limit=1&cursor={page.NextCursor}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        })).ReadAsJsonAsync<Page<ListRecallCampaigns.Response>>();

        Assert.Equal(first, Assert.Single(page.Items).Id);
        Assert.Equal(1, page.Items[0].Queued);
        Assert.Equal(second, Assert.Single(next.Items).Id);
        Assert.Null(next.NextCursor);
        Assert.Equal(2, await App.ScalarAsync<int>("select count(*)::int from recall_campaigns where clinic_id = @ClinicId", new { admin.ClinicId }));
    }

    [Fact]
    public async Task Refuses_the_basic_plan()
    {
        var admin = await RegisterClinicAsync();
        await App.ExecuteAsync("update clinics set plan = 'basic' where id = @ClinicId", new { admin.ClinicId });

        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/dental/recall-campaigns");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Forbidden);
        });

        await ErrorAsync(result, ErrorCodes.PlanUpgradeRequired);
    }

    [Fact]
    public async Task Rejects_a_bad_cursor()
    {
        var admin = await RegisterClinicAsync();
        await AssertInvalidAsync("cursor", s =>
        {
            s.Get.Url("/api/dental/recall-campaigns?cursor=bm90LWEtY3Vyc29y");
            s.WithBearerToken(admin.Token);
        });
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Get.Url("/api/dental/recall-campaigns"));
    }

    [Fact]
    public async Task Refuses_non_admins()
    {
        await AssertRefusedForRoleAsync("staff", s => s.Get.Url("/api/dental/recall-campaigns"));
    }
}
