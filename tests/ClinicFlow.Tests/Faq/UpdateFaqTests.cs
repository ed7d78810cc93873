using System.Net;
using ClinicFlow.Slices.Faq;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Faq;

/// <summary>UpdateFaq: admins edit an entry of their clinic.</summary>
public sealed class UpdateFaqTests(AppFixture app) : ApiTest(app)
{
    private async Task<Guid> CreateAsync(Account admin)
    {
        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new CreateFaq.Request("Horario?", "9 a 18", ["horario"], true)).ToUrl("/api/faq");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        return (await result.ReadAsJsonAsync<CreateFaq.Response>()).Id;
    }

    [Fact]
    public async Task Updates_the_given_fields_and_audits_their_names()
    {
        var admin = await RegisterClinicAsync();
        var id = await CreateAsync(admin);

        var result = await Host.Scenario(s =>
        {
            s.Patch.Json(new UpdateFaq.Request(null, "8 a 20", [], false)).ToUrl($"/api/faq/{id}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var entry = await result.ReadAsJsonAsync<UpdateFaq.Response>();
        Assert.Equal("Horario?", entry.Question);
        Assert.Equal("8 a 20", entry.Answer);
        Assert.Empty(entry.Keywords);
        Assert.False(entry.Active);
        Assert.Equal("8 a 20", await App.ScalarAsync<string>("select answer from faq_entries where id = @id", new { id }));
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "faq.update");
        Assert.Equal(id.ToString(), audit!.EntityId);
        Assert.Contains("answer", audit.Changes, StringComparison.Ordinal);
        Assert.DoesNotContain("question", audit.Changes, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Answers_404_for_another_clinics_entry_and_leaves_it()
    {
        var other = await RegisterClinicAsync();
        var id = await CreateAsync(other);
        var admin = await RegisterClinicAsync();

        await Host.Scenario(s =>
        {
            s.Patch.Json(new UpdateFaq.Request("Mine?", null, null, null)).ToUrl($"/api/faq/{id}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });

        Assert.Equal("Horario?", await App.ScalarAsync<string>("select question from faq_entries where id = @id", new { id }));
    }

    [Fact]
    public async Task Rejects_a_blank_question()
    {
        var admin = await RegisterClinicAsync();
        var id = await CreateAsync(admin);

        await AssertInvalidAsync("question", s =>
        {
            s.Patch.Json(new UpdateFaq.Request("", null, null, null)).ToUrl($"/api/faq/{id}");
            s.WithBearerToken(admin.Token);
        });
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Patch.Json(new UpdateFaq.Request("Q", null, null, null)).ToUrl($"/api/faq/{Guid.NewGuid()}"));
    }

    [Fact]
    public async Task Refuses_non_admins()
    {
        await AssertRefusedForRoleAsync("doctor", s => s.Patch.Json(new UpdateFaq.Request("Q", null, null, null)).ToUrl($"/api/faq/{Guid.NewGuid()}"));
    }
}
