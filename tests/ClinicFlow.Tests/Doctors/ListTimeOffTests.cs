using System.Globalization;
using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Doctors;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Doctors;

public sealed class ListTimeOffTests(AppFixture app) : SchedulingTest(app)
{
    private async Task<Page<ListTimeOff.Response>> ListAsync(Account caller, Guid doctorId, string query = "")
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url($"/api/doctors/{doctorId}/time-off" + query);
            s.WithBearerToken(caller.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        return await result.ReadAsJsonAsync<Page<ListTimeOff.Response>>();
    }

    private static string Instant(DateTimeOffset value) => Uri.EscapeDataString(value.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));

    [Fact]
    public async Task Lists_the_time_off_not_yet_ended_ordered_by_start_to_any_member()
    {
        var admin = await RegisterClinicAsync();
        var staff = await AddUserAsync(admin, "staff");
        var id = await InsertDoctorAsync(admin.ClinicId);
        var colleague = await InsertDoctorAsync(admin.ClinicId);
        await InsertTimeOffAsync(admin.ClinicId, id, HoursAhead(-10, 8), HoursAhead(-9, 8), "Pasado");
        var later = await InsertTimeOffAsync(admin.ClinicId, id, HoursAhead(20, 8), HoursAhead(25, 8), "Vacaciones");
        var ongoing = await InsertTimeOffAsync(admin.ClinicId, id, HoursAhead(-1, 0), HoursAhead(2, 0), "Congreso");
        await InsertTimeOffAsync(admin.ClinicId, colleague, HoursAhead(5, 8), HoursAhead(6, 8));

        var page = await ListAsync(staff, id);

        Assert.Null(page.NextCursor);
        Assert.Equal([ongoing, later], page.Items.Select(t => t.Id));
        var first = page.Items[0];
        Assert.Equal(id, first.DoctorId);
        Assert.Equal(HoursAhead(-1, 0), first.StartsAt);
        Assert.Equal(HoursAhead(2, 0), first.EndsAt);
        Assert.Equal("Congreso", first.Reason);
    }

    [Fact]
    public async Task Filters_by_a_window_including_the_past()
    {
        var admin = await RegisterClinicAsync();
        var doctorUser = await AddUserAsync(admin, "doctor");
        var id = await InsertDoctorAsync(admin.ClinicId);
        var past = await InsertTimeOffAsync(admin.ClinicId, id, HoursAhead(-10, 8), HoursAhead(-9, 8));
        var soon = await InsertTimeOffAsync(admin.ClinicId, id, HoursAhead(3, 8), HoursAhead(4, 8));
        var later = await InsertTimeOffAsync(admin.ClinicId, id, HoursAhead(20, 8), HoursAhead(25, 8));

        Assert.Equal([past, soon, later], (await ListAsync(doctorUser, id, "?from=" + Instant(HoursAhead(-30, 0)))).Items.Select(t => t.Id));
        Assert.Equal([past], (await ListAsync(doctorUser, id, "?to=" + Instant(HoursAhead(-9, 0)))).Items.Select(t => t.Id));
        Assert.Equal([soon],
            (await ListAsync(doctorUser, id, $"?from={Instant(HoursAhead(4, 0))}&to={Instant(HoursAhead(20, 8))}")).Items.Select(t => t.Id));
        // The bounds are half-open: a time off ending exactly at from, or starting exactly at to, is outside.
        Assert.Empty((await ListAsync(doctorUser, id, $"?from={Instant(HoursAhead(4, 8))}&to={Instant(HoursAhead(20, 8))}")).Items);
        // Any offset is accepted in: 12:00Z written as 09:00-03:00.
        var withOffset = Uri.EscapeDataString(HoursAhead(3, 12).ToOffset(TimeSpan.FromHours(-3)).ToString("O", CultureInfo.InvariantCulture));
        Assert.Equal([soon], (await ListAsync(doctorUser, id, $"?from={withOffset}&to={Instant(HoursAhead(4, 0))}")).Items.Select(t => t.Id));
    }

    [Fact]
    public async Task Pages_with_a_cursor_in_start_order()
    {
        var admin = await RegisterClinicAsync();
        var id = await InsertDoctorAsync(admin.ClinicId);
        var ids = new List<Guid>();
        foreach (var day in new[] { 9, 3, 7, 5, 1 })
        {
            ids.Add(await InsertTimeOffAsync(admin.ClinicId, id, HoursAhead(day, 8), HoursAhead(day, 12)));
        }

        var expected = new[] { ids[4], ids[1], ids[3], ids[2], ids[0] };
        var first = await ListAsync(admin, id, "?limit=2");
        var second = await ListAsync(admin, id, "?limit=2&cursor=" + first.NextCursor);
        var third = await ListAsync(admin, id, "?limit=2&cursor=" + second.NextCursor);

        Assert.Equal(expected, first.Items.Concat(second.Items).Concat(third.Items).Select(t => t.Id));
        Assert.NotNull(second.NextCursor);
        Assert.Null(third.NextCursor);
    }

    [Fact]
    public async Task Hides_another_clinics_doctor()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync("Other clinic");
        var theirs = await InsertDoctorAsync(other.ClinicId);
        await InsertTimeOffAsync(other.ClinicId, theirs, HoursAhead(2, 8), HoursAhead(3, 8), "Secreto");

        var result = await Host.Scenario(s =>
        {
            s.Get.Url($"/api/doctors/{theirs}/time-off");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });

        await ErrorAsync(result, ErrorCodes.NotFound);
        Assert.DoesNotContain("Secreto", await result.ReadAsTextAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Get.Url($"/api/doctors/{Guid.CreateVersion7()}/time-off"));
    }

    [Theory]
    [InlineData("?limit=0", "limit")]
    [InlineData("?cursor=bm90LWEtY3Vyc29y", "cursor")]
    [InlineData("?cursor=!!", "cursor")]
    [InlineData("?from=yesterday", "from")]
    [InlineData("?from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z", "from")]
    public async Task Rejects_bad_query_with_details(string query, string field)
    {
        var admin = await RegisterClinicAsync();
        var id = await InsertDoctorAsync(admin.ClinicId);

        await AssertInvalidAsync(field, s =>
        {
            s.Get.Url($"/api/doctors/{id}/time-off" + query);
            s.WithBearerToken(admin.Token);
        });
    }
}
