using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Users;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Users;

public sealed class ListUsersTests(AppFixture app) : ApiTest(app)
{
    private async Task<Page<ListUsers.Response>> ListAsync(Account caller, string query = "")
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/users" + query);
            s.WithBearerToken(caller.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        return await result.ReadAsJsonAsync<Page<ListUsers.Response>>();
    }

    [Fact]
    public async Task Lists_the_clinics_users_only()
    {
        var admin = await RegisterClinicAsync();
        var doctor = await AddUserAsync(admin, "doctor");
        var other = await RegisterClinicAsync("Other clinic");
        await AddUserAsync(other, "staff");
        await Host.Scenario(s =>
        {
            s.Patch.Json(new { pin = "2468", phone = "+5491100000000" }).ToUrl("/api/users/me");
            s.WithBearerToken(doctor.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var page = await ListAsync(admin);

        Assert.Null(page.NextCursor);
        Assert.Equal([admin.UserId, doctor.UserId], page.Items.Select(u => u.Id));
        var listed = page.Items[1];
        Assert.Equal(doctor.Email, listed.Email);
        Assert.Equal("Test doctor", listed.FullName);
        Assert.Equal("doctor", listed.Role);
        Assert.True(listed.Active);
        Assert.Equal("+5491100000000", listed.Phone);
        Assert.Equal(admin.ClinicId, listed.ClinicId);
        Assert.True(listed.HasPin);
        Assert.False(page.Items[0].HasPin);
    }

    [Fact]
    public async Task Filters_by_active()
    {
        var admin = await RegisterClinicAsync();
        var gone = await AddUserAsync(admin, "staff");
        await App.ExecuteAsync("update users set active = false where id = @UserId", new { gone.UserId });

        var inactive = await ListAsync(admin, "?active=false");
        var active = await ListAsync(admin, "?active=true");

        Assert.Equal([gone.UserId], inactive.Items.Select(u => u.Id));
        Assert.Equal([admin.UserId], active.Items.Select(u => u.Id));
        Assert.Equal(2, (await ListAsync(admin)).Items.Count);
    }

    [Fact]
    public async Task Pages_with_a_keyset_cursor()
    {
        var admin = await RegisterClinicAsync();
        var ids = new List<Guid> { admin.UserId };
        for (var i = 0; i < 4; i++)
        {
            ids.Add((await AddUserAsync(admin, "staff")).UserId);
        }

        var first = await ListAsync(admin, "?limit=2");
        var second = await ListAsync(admin, "?limit=2&cursor=" + first.NextCursor);
        var third = await ListAsync(admin, "?limit=2&cursor=" + second.NextCursor);

        Assert.NotNull(first.NextCursor);
        Assert.Null(third.NextCursor);
        Assert.Equal(ids.Order(), first.Items.Concat(second.Items).Concat(third.Items).Select(u => u.Id));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s =>
        {
            s.Get.Url("/api/users");
        });
    }

    [Theory]
    [InlineData("doctor")]
    [InlineData("staff")]
    public async Task Refuses_non_admins(string role)
    {
        await AssertRefusedForRoleAsync(role, s =>
        {
            s.Get.Url("/api/users");
        });
    }

    [Theory]
    [InlineData("?limit=0", "limit")]
    [InlineData("?limit=201", "limit")]
    [InlineData("?cursor=%25%25%25", "cursor")]
    [InlineData("?cursor=bm90LWEtZ3VpZA", "cursor")]
    [InlineData("?active=maybe", "active")]
    public async Task Rejects_bad_query_with_details(string query, string field)
    {
        var admin = await RegisterClinicAsync();

        await AssertInvalidAsync(field, s =>
        {
            s.Get.Url("/api/users" + query);
            s.WithBearerToken(admin.Token);
        });
    }
}
