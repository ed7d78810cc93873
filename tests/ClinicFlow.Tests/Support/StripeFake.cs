using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace ClinicFlow.Tests.Support;

/// <summary>One request the service made to Stripe, as the fake received it (form fields as sent on the wire).</summary>
public sealed record StripeRequest(string Method, string Path, IReadOnlyDictionary<string, string> Form,
    string? IdempotencyKey, string? StripeVersion, string? Authorization);

/// <summary>
/// A local HTTP fake of the few Stripe endpoints the service calls (customers, Checkout Sessions,
/// billing portal sessions). It records the form fields Stripe.net sends and answers with JSON shaped
/// like Stripe's; a customer created twice with one idempotency key is the same customer, as in Stripe.
/// </summary>
public sealed class StripeFake : IAsyncDisposable
{
    public const string SecretKey = "sk_test_clinicflow_fake_0123456789";
    public const string WebhookSecret = "whsec_clinicflow_test_0123456789abcdef";

    private readonly WebApplication _app;
    private readonly ConcurrentQueue<StripeRequest> _requests = new();
    private readonly ConcurrentDictionary<string, string> _customersByKey = new();

    private StripeFake(WebApplication app) => _app = app;

    public string BaseUrl { get; private set; } = "";

    /// <summary>When set, every request answers 500 with Stripe's error shape.</summary>
    public bool FailAll { get; set; }

    public IReadOnlyCollection<StripeRequest> Requests => _requests.ToArray();

    public static async Task<StripeFake> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var fake = new StripeFake(app);
        app.MapPost("/v1/customers", (HttpContext http) => fake.AnswerAsync(http, form => new
        {
            id = fake.CustomerFor(http),
            @object = "customer",
            created = Now(),
            email = form.GetValueOrDefault("email"),
            name = form.GetValueOrDefault("name"),
            metadata = Metadata(form, "metadata"),
            livemode = false,
        }));
        app.MapPost("/v1/checkout/sessions", (HttpContext http) => fake.AnswerAsync(http, form =>
        {
            var id = "cs_test_" + Guid.NewGuid().ToString("N");
            return new
            {
                id,
                @object = "checkout.session",
                created = Now(),
                mode = form.GetValueOrDefault("mode"),
                status = "open",
                payment_status = "unpaid",
                customer = form.GetValueOrDefault("customer"),
                client_reference_id = form.GetValueOrDefault("client_reference_id"),
                metadata = Metadata(form, "metadata"),
                success_url = form.GetValueOrDefault("success_url"),
                cancel_url = form.GetValueOrDefault("cancel_url"),
                url = "https://checkout.stripe.com/c/pay/" + id,
                livemode = false,
            };
        }));
        app.MapPost("/v1/billing_portal/sessions", (HttpContext http) => fake.AnswerAsync(http, form =>
        {
            var id = "bps_" + Guid.NewGuid().ToString("N");
            return new
            {
                id,
                @object = "billing_portal.session",
                created = Now(),
                customer = form.GetValueOrDefault("customer"),
                return_url = form.GetValueOrDefault("return_url"),
                url = "https://billing.stripe.com/p/session/test_" + id,
                livemode = false,
            };
        }));
        await app.StartAsync();
        fake.BaseUrl = app.Urls.First();
        return fake;
    }

    /// <summary>The requests to <paramref name="path"/> whose form has <paramref name="field"/> = <paramref name="value"/>.</summary>
    public IReadOnlyList<StripeRequest> RequestsTo(string path, string field, string value) =>
        Requests.Where(r => r.Path == path && r.Form.TryGetValue(field, out var v) && v == value).ToList();

    /// <summary>
    /// Stripe's webhook signature: <c>t=&lt;unix seconds&gt;,v1=&lt;hex HMAC-SHA256 of "t.payload" keyed with the endpoint secret&gt;</c>.
    /// </summary>
    public static string Sign(string payload, string secret, DateTimeOffset at)
    {
        var timestamp = at.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(timestamp + "." + payload));
        return $"t={timestamp},v1={Convert.ToHexStringLower(mac)}";
    }

    private async Task AnswerAsync(HttpContext http, Func<Dictionary<string, string>, object> body)
    {
        var form = (await http.Request.ReadFormAsync()).ToDictionary(f => f.Key, f => f.Value.ToString());
        _requests.Enqueue(new StripeRequest(http.Request.Method, http.Request.Path, form,
            Header(http, "Idempotency-Key"), Header(http, "Stripe-Version"), Header(http, "Authorization")));
        http.Response.ContentType = "application/json";
        if (FailAll)
        {
            http.Response.StatusCode = 500;
            await http.Response.WriteAsync("""{"error":{"type":"api_error","message":"The fake is down."}}""");
            return;
        }

        await http.Response.WriteAsync(JsonSerializer.Serialize(body(form)));
    }

    private string CustomerFor(HttpContext http)
    {
        var id = "cus_" + Guid.NewGuid().ToString("N")[..14];
        return Header(http, "Idempotency-Key") is { } key ? _customersByKey.GetOrAdd(key, id) : id;
    }

    private static string? Header(HttpContext http, string name) =>
        http.Request.Headers.TryGetValue(name, out var value) ? value.ToString() : null;

    private static Dictionary<string, string> Metadata(Dictionary<string, string> form, string prefix) =>
        form.Where(f => f.Key.StartsWith(prefix + "[", StringComparison.Ordinal))
            .ToDictionary(f => f.Key[(prefix.Length + 1)..^1], f => f.Value);

    private static long Now() => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
