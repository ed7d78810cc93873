using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Faq;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Faq;

/// <summary>ListFaq: any member of the clinic reads its entries, never another clinic's.</summary>
public sealed class ListFaqTests(AppFixture app) : ApiTest(app)
{
    private async Task<Guid> CreateAsync(Account admin, string question, bool active = true)
    {
        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new CreateFaq.Request(question, "A", null, active)).ToUrl("/api/faq");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        return (await result.ReadAsJsonAsync<CreateFaq.Response>()).Id;
    }

    [Fact]
    public async Task Lists_the_clinics_entries_to_staff_with_the_active_filter_and_paging()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync();
        await CreateAsync(other, "Foreign?");
        var first = await CreateAsync(admin, "One?");
        var second = await CreateAsync(admin, "Two?", active: false);
        var staff = await AddUserAsync(admin, "staff");

        var all = await (await Host.Scenario(s =>
        {
            s.Get.Url("/api/faq?limit=1");
            s.WithBearerToken(staff.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        })).ReadAsJsonAsync<Page<ListFaq.Response>>();
        Assert.Equal([first], all.Items.Select(i => i.Id));
        Assert.NotNull(all.NextCursor);

        var inactive = await (await Host.Scenario(s =>
        {
            s.Get.Url("/api/faq?active=false");
            s.WithBearerToken(staff.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        })).ReadAsJsonAsync<Page<ListFaq.Response>>();
        Assert.Equal([second], inactive.Items.Select(i => i.Id));
        Assert.Equal(2, await App.ScalarAsync<int>("select count(*)::int from faq_entries where clinic_id = @ClinicId", new { admin.ClinicId }));
    }

    [Fact]
    public async Task Rejects_a_bad_limit()
    {
        var admin = await RegisterClinicAsync();
        await AssertInvalidAsync("limit", s =>
        {
            s.Get.Url("/api/faq?limit=0");
            s.WithBearerToken(admin.Token);
        });
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Get.Url("/api/faq"));
    }
}
