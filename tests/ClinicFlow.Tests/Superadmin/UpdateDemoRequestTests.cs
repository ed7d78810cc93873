using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Superadmin;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Superadmin;

public sealed class UpdateDemoRequestTests(AppFixture app) : ApiTest(app)
{
    private async Task<Guid> CreateDemoAsync()
    {
        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new { name = "Prospect", email = NewEmail("prospect"), clinicName = "Clínica Demo" }).ToUrl("/api/demo-requests");
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        return (await result.ReadAsJsonAsync<IdOnly>()).Id;
    }

    private Task<IScenarioResult> PatchAsync(Guid id, string body, HttpStatusCode expected, string? key = AppFixture.SuperadminKey) =>
        Host.Scenario(s =>
        {
            s.Patch.Text(body).ToUrl($"/api/superadmin/demo-requests/{id}");
            s.WithRequestHeader("Content-Type", "application/json");
            if (key is not null)
            {
                s.WithRequestHeader("X-Admin-Key", key);
            }

            s.StatusCodeShouldBe(expected);
        });

    [Fact]
    public async Task Moves_the_status_and_audits_it_in_the_platform_chain()
    {
        var id = await CreateDemoAsync();

        var result = await PatchAsync(id, "{\"status\": \"contacted\"}", HttpStatusCode.OK);

        var demo = await result.ReadAsJsonAsync<UpdateDemoRequest.Response>();
        Assert.Equal(id, demo.Id);
        Assert.Equal("contacted", demo.Status);
        Assert.Equal("Clínica Demo", demo.ClinicName);
        Assert.Equal("contacted", await App.ScalarAsync<string>("select status from demo_requests where id = @id", new { id }));
        var audit = (await App.QueryAsync<AuditRow>("""
            select action, entity_type, entity_id, actor_id, actor_type, changes::text as changes
            from audit_log where clinic_id = @Chain and entity_id = @Id and action = 'demo_request.update'
            """, new { Chain = Audit.PlatformChain, Id = id.ToString() })).Single();
        Assert.Equal("superadmin", audit.ActorType);
        Assert.Equal("{\"status\": {\"to\": \"contacted\", \"from\": \"new\"}}", audit.Changes);
    }

    [Fact]
    public async Task Answers_404_for_an_unknown_request()
    {
        var result = await PatchAsync(Guid.CreateVersion7(), "{\"status\": \"rejected\"}", HttpStatusCode.NotFound);

        await ErrorAsync(result, ErrorCodes.NotFound);
    }

    [Theory]
    [InlineData("{\"status\": \"spam\"}")]
    [InlineData("{}")]
    public async Task Rejects_bad_status_with_details(string body)
    {
        var id = await CreateDemoAsync();

        var result = await PatchAsync(id, body, HttpStatusCode.BadRequest);

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Contains("status", error.Details!.Keys);
        Assert.Equal("new", await App.ScalarAsync<string>("select status from demo_requests where id = @id", new { id }));
    }

    [Fact]
    public async Task Requires_the_admin_key()
    {
        var id = await CreateDemoAsync();

        await ErrorAsync(await PatchAsync(id, "{\"status\": \"converted\"}", HttpStatusCode.Unauthorized, key: null), ErrorCodes.Unauthenticated);
        await ErrorAsync(await PatchAsync(id, "{\"status\": \"converted\"}", HttpStatusCode.Unauthorized, key: "nope"), ErrorCodes.Unauthenticated);
        Assert.Equal("new", await App.ScalarAsync<string>("select status from demo_requests where id = @id", new { id }));
    }

    private sealed record IdOnly(Guid Id);
}
