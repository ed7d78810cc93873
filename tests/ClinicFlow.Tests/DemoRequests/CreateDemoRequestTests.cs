using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.DemoRequests;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.DemoRequests;

public sealed class CreateDemoRequestTests(AppFixture app) : ApiTest(app)
{
    [Fact]
    public async Task Stores_the_request_with_the_client_ip_and_audits_it_in_the_platform_chain()
    {
        var email = NewEmail("prospect");

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new CreateDemoRequest.Request(" Lucía Pérez ", email, "Clínica Palermo", "+5491155556666", "AR", "¿Tienen recordatorios?"))
                .ToUrl("/api/demo-requests");
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });

        var created = await result.ReadAsJsonAsync<CreateDemoRequest.Response>();
        Assert.Equal("new", created.Status);
        var stored = (await App.QueryAsync<(string Name, string Email, string ClinicName, string Phone, string Country, string Message, string Status, string Ip)>(
            "select name, email::text, clinic_name, phone, country, message, status, ip from demo_requests where id = @Id", new { created.Id })).Single();
        Assert.Equal(("Lucía Pérez", email, "Clínica Palermo", "+5491155556666", "AR", "¿Tienen recordatorios?", "new"),
            (stored.Name, stored.Email, stored.ClinicName, stored.Phone, stored.Country, stored.Message, stored.Status));
        Assert.False(string.IsNullOrEmpty(stored.Ip));

        var audit = (await App.QueryAsync<AuditRow>("""
            select action, entity_type, entity_id, actor_id, actor_type, changes::text as changes
            from audit_log where clinic_id = @Chain and entity_id = @Id
            """, new { Chain = Audit.PlatformChain, Id = created.Id.ToString() })).Single();
        Assert.Equal("demo_request.create", audit.Action);
        Assert.Equal("public", audit.ActorType);
        Assert.DoesNotContain(email, audit.Changes, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Needs_no_token_and_accepts_only_the_required_fields()
    {
        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new { name = "Max", email = NewEmail("max"), clinicName = "Praxis Max" }).ToUrl("/api/demo-requests");
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });

        var created = await result.ReadAsJsonAsync<CreateDemoRequest.Response>();
        Assert.Equal(1, await App.ScalarAsync<int>(
            "select count(*)::int from demo_requests where id = @Id and phone is null and country is null and message is null", new { created.Id }));
    }

    [Fact]
    public async Task Rejects_bad_input_with_details()
    {
        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new { name = "", email = "nope", clinicName = "" }).ToUrl("/api/demo-requests");
            s.StatusCodeShouldBe(HttpStatusCode.BadRequest);
        });

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Contains("name", error.Details!.Keys);
        Assert.Contains("email", error.Details.Keys);
        Assert.Contains("clinicName", error.Details.Keys);
    }

    [Fact]
    public async Task Is_rate_limited_per_client()
    {
        var host = await App.StartHostAsync(new Dictionary<string, string?> { ["RateLimits:Demo:PermitLimit"] = "2" });
        for (var i = 0; i < 2; i++)
        {
            await host.Scenario(s =>
            {
                s.Post.Json(new { name = "Max", email = NewEmail("max"), clinicName = "Praxis Max" }).ToUrl("/api/demo-requests");
                s.StatusCodeShouldBe(HttpStatusCode.Created);
            });
        }

        var result = await host.Scenario(s =>
        {
            s.Post.Json(new { name = "Max", email = NewEmail("max"), clinicName = "Praxis Max" }).ToUrl("/api/demo-requests");
            s.StatusCodeShouldBe(HttpStatusCode.TooManyRequests);
        });

        await ErrorAsync(result, ErrorCodes.RateLimited);
        Assert.False(string.IsNullOrEmpty(result.Context.Response.Headers.RetryAfter));
    }
}
