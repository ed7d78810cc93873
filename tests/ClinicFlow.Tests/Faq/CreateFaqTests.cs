using System.Net;
using ClinicFlow.Slices.Faq;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Faq;

/// <summary>CreateFaq: admins add the chatbot's answers.</summary>
public sealed class CreateFaqTests(AppFixture app) : ApiTest(app)
{
    [Fact]
    public async Task Creates_an_entry_and_audits_it()
    {
        var admin = await RegisterClinicAsync();

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new CreateFaq.Request("¿Cuál es el horario?", "Lunes a viernes de 9 a 18.", ["horario", " horarios ", "HORARIO"], null))
                .ToUrl("/api/faq");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });

        var entry = await result.ReadAsJsonAsync<CreateFaq.Response>();
        Assert.Equal("¿Cuál es el horario?", entry.Question);
        Assert.Equal(["horario", "horarios"], entry.Keywords);
        Assert.True(entry.Active);
        Assert.Equal(admin.ClinicId, await App.ScalarAsync<Guid>("select clinic_id from faq_entries where id = @Id", new { entry.Id }));
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "faq.create");
        Assert.Equal(entry.Id.ToString(), audit!.EntityId);
        Assert.Equal(admin.UserId, audit.ActorId);
    }

    [Fact]
    public async Task Rejects_a_missing_answer_with_details()
    {
        var admin = await RegisterClinicAsync();

        await AssertInvalidAsync("answer", s =>
        {
            s.Post.Json(new CreateFaq.Request("Q?", "", null, true)).ToUrl("/api/faq");
            s.WithBearerToken(admin.Token);
        });
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Post.Json(new CreateFaq.Request("Q", "A", null, true)).ToUrl("/api/faq"));
    }

    [Fact]
    public async Task Refuses_non_admins()
    {
        await AssertRefusedForRoleAsync("staff", s => s.Post.Json(new CreateFaq.Request("Q", "A", null, true)).ToUrl("/api/faq"));
    }
}
