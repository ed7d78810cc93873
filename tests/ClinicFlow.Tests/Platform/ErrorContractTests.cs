using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace ClinicFlow.Tests.Platform;

/// <summary>Every failure the framework raises itself still answers <c>{ error, code }</c>.</summary>
public sealed class ErrorContractTests(AppFixture app) : ApiTest(app)
{
    [Fact]
    public async Task Unknown_route_is_not_found()
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/no-such-thing");
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });

        await ErrorAsync(result, ErrorCodes.NotFound);
        Assert.StartsWith("application/json", result.Context.Response.ContentType, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Wrong_method_is_method_not_allowed()
    {
        var result = await Host.Scenario(s =>
        {
            s.Delete.Url("/api/auth/login");
            s.StatusCodeShouldBe(HttpStatusCode.MethodNotAllowed);
        });

        await ErrorAsync(result, ErrorCodes.MethodNotAllowed);
    }

    [Fact]
    public async Task Wrong_content_type_is_unsupported_media_type()
    {
        var result = await Host.Scenario(s =>
        {
            s.Post.Text("email=a@b.c").ToUrl("/api/auth/login");
            s.WithRequestHeader("Content-Type", "text/plain");
            s.StatusCodeShouldBe(HttpStatusCode.UnsupportedMediaType);
        });

        await ErrorAsync(result, ErrorCodes.UnsupportedMediaType);
    }

    [Fact]
    public async Task Oversized_body_is_payload_too_large()
    {
        var huge = new string('x', 2 * 1024 * 1024);

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new { email = "a@b.c", password = huge }).ToUrl("/api/auth/login");
            s.StatusCodeShouldBe(HttpStatusCode.RequestEntityTooLarge);
        });

        await ErrorAsync(result, ErrorCodes.PayloadTooLarge);
    }

    [Fact]
    public async Task Malformed_json_is_invalid_json()
    {
        var result = await Host.Scenario(s =>
        {
            s.Post.Text("{\"email\": \"a@b.c\", ").ToUrl("/api/auth/login");
            s.WithRequestHeader("Content-Type", "application/json");
            s.StatusCodeShouldBe(HttpStatusCode.BadRequest);
        });

        await ErrorAsync(result, ErrorCodes.InvalidJson);
    }

    [Fact]
    public async Task Wrong_json_type_is_invalid_json()
    {
        var result = await Host.Scenario(s =>
        {
            s.Post.Text("{\"email\": 42, \"password\": []}").ToUrl("/api/auth/login");
            s.WithRequestHeader("Content-Type", "application/json");
            s.StatusCodeShouldBe(HttpStatusCode.BadRequest);
        });

        await ErrorAsync(result, ErrorCodes.InvalidJson);
    }

    [Fact]
    public async Task A_value_of_the_wrong_type_names_its_field()
    {
        var admin = await RegisterClinicAsync();

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new { email = NewEmail(), fullName = "X", role = "boss", password = Password }).ToUrl("/api/users");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.BadRequest);
        });

        var error = await ErrorAsync(result, ErrorCodes.InvalidJson);
        Assert.Contains("role", error.Details!.Keys);
    }

    [Fact]
    public async Task Unknown_properties_are_ignored()
    {
        var admin = await RegisterClinicAsync();

        await Host.Scenario(s =>
        {
            s.Post.Json(new { email = admin.Email, password = Password, rememberMe = true, extra = new { a = 1 } }).ToUrl("/api/auth/login");
            s.StatusCodeShouldBeOk();
        });
    }

    [Theory]
    [InlineData("es", "No encontrado.")]
    [InlineData("de-DE,de;q=0.9", "Nicht gefunden.")]
    [InlineData("fr", "Not found.")]
    public async Task Messages_follow_accept_language(string acceptLanguage, string message)
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/no-such-thing");
            s.WithRequestHeader("Accept-Language", acceptLanguage);
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });

        Assert.Equal(message, (await ErrorAsync(result, ErrorCodes.NotFound)).Error);
    }

    [Fact]
    public async Task Validation_messages_follow_accept_language()
    {
        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new { email = "", password = "" }).ToUrl("/api/auth/login");
            s.WithRequestHeader("Accept-Language", "es");
            s.StatusCodeShouldBe(HttpStatusCode.BadRequest);
        });

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Equal("La solicitud no es válida.", error.Error);
        Assert.Contains("email", error.Details!.Keys);
    }

    [Fact]
    public async Task An_unhandled_exception_is_an_internal_error_that_reveals_nothing()
    {
        var isolated = await App.StartIsolatedAsync(new Dictionary<string, string?>(),
            services => services.AddSingleton<TimeProvider>(new ExplodingClock()));
        var email = NewEmail();

        var result = await isolated.Host.Scenario(s =>
        {
            s.Post.Json(new { email, password = Password, clinicName = "Boom" }).ToUrl("/api/auth/register");
            s.WithRequestHeader(RequestIds.Header, $"boom-{email.GetHashCode(StringComparison.Ordinal):x8}");
            s.StatusCodeShouldBe(HttpStatusCode.InternalServerError);
        });

        var requestId = result.Context.Response.Headers[RequestIds.Header].ToString();
        var body = await result.ReadAsTextAsync();
        Assert.Equal($$"""{"error":"An unexpected error occurred.","code":"INTERNAL_ERROR","requestId":"{{requestId}}"}""", body);

        // The log keeps what the client never sees, on a line that names the request.
        Assert.Contains(await File.ReadAllLinesAsync(AppFixture.LogPath, Ct), line =>
            line.Contains($"RequestId:{requestId}", StringComparison.Ordinal) && line.Contains("Unhandled exception", StringComparison.Ordinal));
        Assert.Contains("secret-internal-detail", await File.ReadAllTextAsync(AppFixture.LogPath, Ct), StringComparison.Ordinal);
        await using var connection = new Npgsql.NpgsqlConnection(isolated.AdminConnectionString);
        Assert.Equal(0L, await Dapper.SqlMapper.ExecuteScalarAsync<long>(connection, "select count(*) from users"));
    }

    private sealed class ExplodingClock : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => throw new InvalidOperationException("secret-internal-detail");
    }
}
