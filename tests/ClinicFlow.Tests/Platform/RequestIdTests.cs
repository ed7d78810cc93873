using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Platform;

/// <summary>Every answer names its request (<see cref="RequestIds"/>); error bodies quote it.</summary>
public sealed class RequestIdTests(AppFixture app) : ApiTest(app)
{
    [Fact]
    public async Task Keeps_a_safe_client_request_id_on_answer_and_error_body()
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/no-such-route");
            s.WithRequestHeader(RequestIds.Header, "mobile-42.retry:1");
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });

        Assert.Equal("mobile-42.retry:1", result.Context.Response.Headers[RequestIds.Header].ToString());
        var error = await ErrorAsync(result, ErrorCodes.NotFound);
        Assert.Equal("mobile-42.retry:1", error.RequestId);
    }

    [Theory]
    [InlineData("has space")]
    [InlineData("semi;colon")]
    [InlineData("0123456789012345678901234567890123456789012345678901234567890123456789")]
    public async Task Replaces_an_unsafe_or_long_client_id_with_its_own(string sent)
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/health/live");
            s.WithRequestHeader(RequestIds.Header, sent);
            s.StatusCodeShouldBeOk();
        });

        var id = result.Context.Response.Headers[RequestIds.Header].ToString();
        Assert.NotEqual(sent, id);
        Assert.True(RequestIds.IsAcceptable(id));
    }

    [Fact]
    public async Task Continues_the_callers_w3c_trace_when_no_id_is_sent()
    {
        const string traceId = "4bf92f3577b34da6a3ce929d0e0e4736";

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new { email = "nobody@test.clinicflow.local", password = "wrong password!" }).ToUrl("/api/auth/login");
            s.WithRequestHeader("traceparent", $"00-{traceId}-00f067aa0ba902b7-01");
            s.StatusCodeShouldBe(HttpStatusCode.Unauthorized);
        });

        Assert.Equal(traceId, result.Context.Response.Headers[RequestIds.Header].ToString());
        var error = await ErrorAsync(result, ErrorCodes.InvalidCredentials);
        Assert.Equal(traceId, error.RequestId);
    }

    [Fact]
    public async Task Gives_every_request_its_own_id()
    {
        var ids = new HashSet<string>();
        for (var i = 0; i < 3; i++)
        {
            var result = await Host.Scenario(s =>
            {
                s.Get.Url("/health/live");
                s.StatusCodeShouldBeOk();
            });
            ids.Add(result.Context.Response.Headers[RequestIds.Header].ToString());
        }

        Assert.Equal(3, ids.Count);
    }

    [Fact]
    public async Task Validation_errors_quote_the_request_id_too()
    {
        var admin = await RegisterClinicAsync();

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new { fullName = "" }).ToUrl("/api/patients");
            s.WithBearerToken(admin.Token);
            s.WithRequestHeader(RequestIds.Header, "req-validation-1");
            s.StatusCodeShouldBe(HttpStatusCode.BadRequest);
        });

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Equal("req-validation-1", error.RequestId);
        Assert.NotNull(error.Details);
    }
}
