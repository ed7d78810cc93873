using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.TreatmentTemplates;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.TreatmentTemplates;

/// <summary>GET /api/treatment-templates (<see cref="ListTreatmentTemplates"/>).</summary>
public sealed class ListTreatmentTemplatesTests(AppFixture app) : ClinicalTest(app)
{
    [Fact]
    public async Task Lists_only_the_clinics_templates_with_items_page_by_page()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync();
        var a = await TemplateSteps.CreateAsync(Host, admin, "A", new Item("x", null, null, 2, 50));
        var b = await TemplateSteps.CreateAsync(Host, admin, "B");
        await TemplateSteps.CreateAsync(Host, other, "Foreign");

        var page1 = await PageAsync(admin, "/api/treatment-templates?limit=1");
        var page2 = await PageAsync(admin, $"/api/treatment-templates?limit=1&cursor={page1.NextCursor}");

        Assert.Equal(a.Id, Assert.Single(page1.Items).Id);
        Assert.Equal(100, page1.Items[0].TotalCents);
        Assert.Equal(b.Id, Assert.Single(page2.Items).Id);
        Assert.Empty(page2.Items[0].Items);
        Assert.Null(page2.NextCursor);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Get.Url("/api/treatment-templates"));
    }

    [Fact]
    public async Task Refuses_reception_staff()
    {
        await AssertRefusedForRoleAsync("staff", s => s.Get.Url("/api/treatment-templates"));
    }

    [Fact]
    public async Task Rejects_a_bad_limit_with_details()
    {
        var admin = await RegisterClinicAsync();

        await AssertInvalidAsync("limit", s =>
        {
            s.Get.Url("/api/treatment-templates?limit=0");
            s.WithBearerToken(admin.Token);
        });
    }

    private async Task<Page<ListTreatmentTemplates.Response>> PageAsync(Account account, string url)
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url(url);
            s.WithBearerToken(account.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        return await BodyAsync<Page<ListTreatmentTemplates.Response>>(result);
    }
}
