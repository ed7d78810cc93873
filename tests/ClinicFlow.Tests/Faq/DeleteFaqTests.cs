using System.Net;
using ClinicFlow.Slices.Faq;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Faq;

/// <summary>DeleteFaq: admins remove an entry of their clinic.</summary>
public sealed class DeleteFaqTests(AppFixture app) : ApiTest(app)
{
    private async Task<Guid> CreateAsync(Account admin)
    {
        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new CreateFaq.Request("Parking?", "Sí, en la esquina.", null, true)).ToUrl("/api/faq");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        return (await result.ReadAsJsonAsync<CreateFaq.Response>()).Id;
    }

    [Fact]
    public async Task Deletes_the_entry_and_audits_it()
    {
        var admin = await RegisterClinicAsync();
        var id = await CreateAsync(admin);

        await Host.Scenario(s =>
        {
            s.Delete.Url($"/api/faq/{id}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NoContent);
        });

        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from faq_entries where id = @id", new { id }));
        Assert.Equal(id.ToString(), (await LastAuditAsync(admin.ClinicId!.Value, "faq.delete"))!.EntityId);
    }

    [Fact]
    public async Task Answers_404_for_another_clinics_entry_and_keeps_it()
    {
        var other = await RegisterClinicAsync();
        var id = await CreateAsync(other);
        var admin = await RegisterClinicAsync();

        await Host.Scenario(s =>
        {
            s.Delete.Url($"/api/faq/{id}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });

        Assert.Equal(1, await App.ScalarAsync<int>("select count(*)::int from faq_entries where id = @id", new { id }));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Delete.Url($"/api/faq/{Guid.NewGuid()}"));
    }

    [Fact]
    public async Task Refuses_non_admins()
    {
        await AssertRefusedForRoleAsync("staff", s => s.Delete.Url($"/api/faq/{Guid.NewGuid()}"));
    }
}
