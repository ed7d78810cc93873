using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Superadmin;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Superadmin;

public sealed class ListClinicsTests(AppFixture app) : ApiTest(app)
{
    private static string NewTag() => "T" + Guid.NewGuid().ToString("N")[..10];

    private async Task<Page<ListClinics.ClinicItem>> ListAsync(string query)
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/superadmin/clinics" + query);
            s.WithRequestHeader("X-Admin-Key", AppFixture.SuperadminKey);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        return await result.ReadAsJsonAsync<Page<ListClinics.ClinicItem>>();
    }

    [Fact]
    public async Task Lists_clinics_with_plan_status_and_user_counts()
    {
        var tag = NewTag();
        var admin = await RegisterClinicAsync($"Clínica Ñandú {tag}", "AR");
        var staff = await AddUserAsync(admin, "staff");
        await App.ExecuteAsync("update users set active = false where id = @UserId", new { staff.UserId });

        var page = await ListAsync($"?q=clinica%20nandu%20{tag.ToLowerInvariant()}");

        var clinic = Assert.Single(page.Items);
        Assert.Equal(admin.ClinicId, clinic.Id);
        Assert.Equal($"Clínica Ñandú {tag}", clinic.Name);
        Assert.Equal("AR", clinic.Country);
        Assert.Equal("pro", clinic.Plan);
        Assert.Equal("trialing", clinic.SubscriptionStatus);
        Assert.NotNull(clinic.SubscriptionExpiresAt);
        Assert.False(clinic.Expired);
        Assert.True(clinic.Active);
        Assert.Equal(2, clinic.Users);
        Assert.Equal(1, clinic.ActiveUsers);
        Assert.Null(page.NextCursor);
    }

    [Fact]
    public async Task Filters_by_plan_and_status()
    {
        var tag = NewTag();
        var basic = await RegisterClinicAsync($"Basic {tag}");
        var pro = await RegisterClinicAsync($"Pro {tag}");
        await App.ExecuteAsync("update clinics set plan = 'basic', subscription_status = 'active' where id = @ClinicId", new { basic.ClinicId });

        var basics = await ListAsync($"?q={tag}&plan=basic");
        Assert.Equal(new[] { basic.ClinicId!.Value }, basics.Items.Select(c => c.Id));

        var trialing = await ListAsync($"?q={tag}&status=trialing");
        Assert.Equal(new[] { pro.ClinicId!.Value }, trialing.Items.Select(c => c.Id));

        Assert.Empty((await ListAsync($"?q={tag}&plan=enterprise")).Items);
    }

    [Fact]
    public async Task Pages_newest_first_with_a_keyset_cursor()
    {
        var tag = NewTag();
        var first = await RegisterClinicAsync($"A {tag}");
        var second = await RegisterClinicAsync($"B {tag}");
        var third = await RegisterClinicAsync($"C {tag}");

        var page1 = await ListAsync($"?q={tag}&limit=2");
        Assert.Equal(new[] { third.ClinicId!.Value, second.ClinicId!.Value }, page1.Items.Select(c => c.Id));
        Assert.NotNull(page1.NextCursor);

        var page2 = await ListAsync($"?q={tag}&limit=2&cursor={page1.NextCursor}");
        Assert.Equal(new[] { first.ClinicId!.Value }, page2.Items.Select(c => c.Id));
        Assert.Null(page2.NextCursor);
    }

    [Theory]
    [InlineData("?plan=gold", "plan")]
    [InlineData("?status=lapsed", "status")]
    [InlineData("?limit=0", "limit")]
    [InlineData("?limit=201", "limit")]
    [InlineData("?cursor=bm90LWEtZ3VpZA", "cursor")]
    public async Task Rejects_bad_filters_with_details(string query, string field)
    {
        await AssertInvalidAsync(field, s =>
        {
            s.Get.Url("/api/superadmin/clinics" + query);
            s.WithRequestHeader("X-Admin-Key", AppFixture.SuperadminKey);
        });
    }

    [Fact]
    public async Task Requires_the_admin_key()
    {
        await AssertNeedsTokenAsync(s =>
        {
            s.Get.Url("/api/superadmin/clinics");
        });
    }

    [Fact]
    public async Task Refuses_a_wrong_admin_key()
    {
        await AssertNeedsTokenAsync(s =>
        {
            s.Get.Url("/api/superadmin/clinics");
            s.WithRequestHeader("X-Admin-Key", AppFixture.SuperadminKey + "x");
        });
    }

    [Fact]
    public async Task Does_not_open_for_a_clinic_admins_token()
    {
        var admin = await RegisterClinicAsync();

        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/superadmin/clinics");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Unauthorized);
        });

        await ErrorAsync(result, ErrorCodes.Unauthenticated);
    }
}
