using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace ClinicFlow.Tests.Support;

/// <summary>One call the fake Graph API received.</summary>
public sealed record GraphRequest(string PhoneNumberId, string? Authorization, string Body, int Status, string? MessageId)
{
    private JsonElement Json => JsonDocument.Parse(Body).RootElement;

    public string To => Json.GetProperty("to").GetString()!;

    public string Type => Json.GetProperty("type").GetString()!;

    public string? Text => Type == "text" ? Json.GetProperty("text").GetProperty("body").GetString() : null;

    public string? TemplateName => Type == "template" ? Json.GetProperty("template").GetProperty("name").GetString() : null;

    public IReadOnlyList<string> TemplateParameters => Type == "template"
        ? Json.GetProperty("template").GetProperty("components")[0].GetProperty("parameters").EnumerateArray()
            .Select(p => p.GetProperty("text").GetString()!).ToList()
        : [];

    public string? ReplyTo => Json.TryGetProperty("context", out var context) ? context.GetProperty("message_id").GetString() : null;
}

/// <summary>
/// A local HTTP fake of the WhatsApp Cloud API's <c>POST /{phoneNumberId}/messages</c> on 127.0.0.1:
/// records every request, answers a fresh message id, and fails the next N requests on demand.
/// </summary>
public sealed class GraphFake : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<GraphRequest> _requests = new();
    private int _failNext;
    private int _failStatus = 500;
    private int _counter;

    private GraphFake(WebApplication app) => _app = app;

    public string BaseUrl { get; private set; } = "";

    public IReadOnlyList<GraphRequest> Requests => [.. _requests];

    public static async Task<GraphFake> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var fake = new GraphFake(app);
        app.MapPost("/{phoneNumberId}/messages", fake.HandleAsync);
        await app.StartAsync();
        fake.BaseUrl = app.Urls.First().TrimEnd('/');
        return fake;
    }

    /// <summary>The next <paramref name="count"/> requests answer <paramref name="status"/> with Meta's error shape.</summary>
    public void FailNext(int count, int status = 500)
    {
        _failStatus = status;
        Interlocked.Exchange(ref _failNext, count);
    }

    public IReadOnlyList<GraphRequest> RequestsFor(string phoneNumberId) => [.. _requests.Where(r => r.PhoneNumberId == phoneNumberId)];

    /// <summary>Waits (bounded) until a successful request matches.</summary>
    public async Task<GraphRequest> WaitForAsync(Func<GraphRequest, bool> match, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(15));
        while (DateTime.UtcNow < deadline)
        {
            var found = _requests.FirstOrDefault(r => r.Status == 200 && match(r));
            if (found is not null)
            {
                return found;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException("The fake Graph API received no matching request.");
    }

    private async Task<IResult> HandleAsync(string phoneNumberId, HttpRequest request)
    {
        using var reader = new StreamReader(request.Body);
        var body = await reader.ReadToEndAsync();
        var authorization = request.Headers.Authorization.ToString();
        if (Interlocked.Decrement(ref _failNext) >= 0)
        {
            _requests.Enqueue(new GraphRequest(phoneNumberId, authorization, body, _failStatus, null));
            return Results.Json(new { error = new { message = "Fake failure", type = "OAuthException", code = 1 } }, statusCode: _failStatus);
        }

        Interlocked.Exchange(ref _failNext, 0);
        var id = $"wamid.fake-{Interlocked.Increment(ref _counter)}-{Guid.NewGuid():N}";
        _requests.Enqueue(new GraphRequest(phoneNumberId, authorization, body, 200, id));
        var to = JsonDocument.Parse(body).RootElement.GetProperty("to").GetString();
        return Results.Json(new
        {
            messaging_product = "whatsapp",
            contacts = new[] { new { input = to, wa_id = to } },
            messages = new[] { new { id } },
        });
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
