using System.Text.Json;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Platform;

public sealed class OperationsTests(AppFixture app) : ApiTest(app)
{
    [Fact]
    public async Task Publishes_an_openapi_31_document_with_schemas_and_errors()
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/openapi/v1.json");
            s.StatusCodeShouldBeOk();
        });

        using var doc = JsonDocument.Parse(await result.ReadAsTextAsync());
        var root = doc.RootElement;
        Assert.StartsWith("3.1", root.GetProperty("openapi").GetString(), StringComparison.Ordinal);
        var paths = root.GetProperty("paths");
        var register = paths.GetProperty("/api/auth/register").GetProperty("post");
        Assert.Equal("Register", register.GetProperty("operationId").GetString());
        Assert.True(register.GetProperty("responses").TryGetProperty("409", out _));
        Assert.Equal("GetPractice", paths.GetProperty("/api/practice").GetProperty("get").GetProperty("operationId").GetString());
        Assert.True(paths.GetProperty("/api/users").GetProperty("post").GetProperty("responses").TryGetProperty("403", out _));
        var schemas = root.GetProperty("components").GetProperty("schemas");
        Assert.True(schemas.TryGetProperty("RegisterRequest", out _));
        Assert.True(schemas.TryGetProperty("CreateUserResponse", out _));
        Assert.True(schemas.TryGetProperty("ApiError", out _));
        Assert.True(schemas.TryGetProperty("ListUsersResponsePage", out _));
        Assert.True(schemas.TryGetProperty("ListAuditResponsePage", out _));
        var usersPage = paths.GetProperty("/api/users").GetProperty("get").GetProperty("responses").GetProperty("200")
            .GetProperty("content").GetProperty("application/json").GetProperty("schema").GetProperty("$ref").GetString();
        Assert.Equal("#/components/schemas/ListUsersResponsePage", usersPage);
        Assert.True(root.GetProperty("components").GetProperty("securitySchemes").TryGetProperty("Bearer", out _));

        // Non-JSON answers name their media types: the calendar feed and the check-in QR.
        var feed = paths.GetProperty("/api/ics/{token}.ics").GetProperty("get").GetProperty("responses");
        Assert.True(feed.GetProperty("200").GetProperty("content").TryGetProperty("text/calendar", out _));
        Assert.True(feed.TryGetProperty("304", out _));
        var qr = paths.GetProperty("/api/clinics/current/attendance-qr").GetProperty("get").GetProperty("responses")
            .GetProperty("200").GetProperty("content");
        Assert.Equal(["image/png", "image/svg+xml"], qr.EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal("binary", schemas.GetProperty("Stream").GetProperty("format").GetString());
        Assert.True(paths.GetProperty("/api/appointments").GetProperty("post").GetProperty("responses").TryGetProperty("409", out _));
    }

    [Fact]
    public async Task Serves_the_scalar_reference()
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/scalar/");
            s.StatusCodeShouldBeOk();
        });

        Assert.Contains("<html", await result.ReadAsTextAsync(), StringComparison.OrdinalIgnoreCase);
    }
}
