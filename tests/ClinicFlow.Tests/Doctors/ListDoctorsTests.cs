using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Doctors;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Doctors;

public sealed class ListDoctorsTests(AppFixture app) : SchedulingTest(app)
{
    private async Task<Page<ListDoctors.Response>> ListAsync(Account caller, string query = "")
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/doctors" + query);
            s.WithBearerToken(caller.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        return await result.ReadAsJsonAsync<Page<ListDoctors.Response>>();
    }

    [Fact]
    public async Task Lists_the_clinics_active_doctors_in_creation_order_to_any_member()
    {
        var admin = await RegisterClinicAsync();
        var staff = await AddUserAsync(admin, "staff");
        var other = await RegisterClinicAsync("Other clinic");
        var first = await InsertDoctorAsync(admin.ClinicId, "Dra. Ana");
        await App.ExecuteAsync("""
            update doctors set specialty = 'Odontología', email = 'ana@example.com', phone = '+5491122334455', color = '#1a2b3c'
            where id = @first
            """, new { first });
        await InsertDoctorAsync(admin.ClinicId, "Dr. Inactivo", active: false);
        var second = await InsertDoctorAsync(admin.ClinicId, "Dr. Bruno");
        await InsertDoctorAsync(other.ClinicId, "Dr. Ajeno");

        var page = await ListAsync(staff);

        Assert.Null(page.NextCursor);
        Assert.Equal([first, second], page.Items.Select(d => d.Id));
        var ana = page.Items[0];
        Assert.Equal("Dra. Ana", ana.FullName);
        Assert.Equal("Odontología", ana.Specialty);
        Assert.Equal("ana@example.com", ana.Email);
        Assert.Equal("+5491122334455", ana.Phone);
        Assert.Equal("#1a2b3c", ana.Color);
        Assert.True(ana.Active);
        Assert.Null(ana.UserId);
    }

    [Fact]
    public async Task Includes_inactive_doctors_when_asked()
    {
        var admin = await RegisterClinicAsync();
        var doctor = await AddUserAsync(admin, "doctor");
        var active = await InsertDoctorAsync(admin.ClinicId, "Activa");
        var inactive = await InsertDoctorAsync(admin.ClinicId, "Inactiva", active: false);

        var page = await ListAsync(doctor, "?includeInactive=true");

        Assert.Equal([active, inactive], page.Items.Select(d => d.Id));
        Assert.Equal([true, false], page.Items.Select(d => d.Active));
        Assert.Equal([active], (await ListAsync(doctor, "?includeInactive=false")).Items.Select(d => d.Id));
    }

    [Fact]
    public async Task Pages_through_the_doctors_with_a_cursor()
    {
        var admin = await RegisterClinicAsync();
        var ids = new List<Guid>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add(await InsertDoctorAsync(admin.ClinicId, $"Doctor {i}"));
        }

        var first = await ListAsync(admin, "?limit=2");
        var second = await ListAsync(admin, "?limit=2&cursor=" + first.NextCursor);
        var third = await ListAsync(admin, "?limit=2&cursor=" + second.NextCursor);

        Assert.Equal(ids.Take(2), first.Items.Select(d => d.Id));
        Assert.Equal(ids.Skip(2).Take(2), second.Items.Select(d => d.Id));
        Assert.Equal(ids.Skip(4), third.Items.Select(d => d.Id));
        Assert.NotNull(first.NextCursor);
        Assert.NotNull(second.NextCursor);
        Assert.Null(third.NextCursor);
    }

    [Fact]
    public async Task Answers_an_empty_page_for_a_clinic_without_doctors()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync("Other clinic");
        await InsertDoctorAsync(other.ClinicId);

        var page = await ListAsync(admin);

        Assert.Empty(page.Items);
        Assert.Null(page.NextCursor);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Get.Url("/api/doctors"));
    }

    [Theory]
    [InlineData("?limit=0", "limit")]
    [InlineData("?limit=201", "limit")]
    [InlineData("?cursor=bm90LWEtZ3VpZA", "cursor")]
    [InlineData("?includeInactive=maybe", "includeInactive")]
    public async Task Rejects_bad_query_with_details(string query, string field)
    {
        var admin = await RegisterClinicAsync();

        await AssertInvalidAsync(field, s =>
        {
            s.Get.Url("/api/doctors" + query);
            s.WithBearerToken(admin.Token);
        });
    }
}
