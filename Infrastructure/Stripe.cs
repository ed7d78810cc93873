using Microsoft.Extensions.Options;
using Stripe;

namespace ClinicFlow.Infrastructure;

public sealed class StripeOptions
{
    /// <summary>The secret API key (sk_live_… / sk_test_… or a restricted rk_… key). Empty = billing is switched off.</summary>
    public string SecretKey { get; set; } = "";

    /// <summary>The signing secret (whsec_…) of the webhook endpoint registered in Stripe's dashboard.</summary>
    public string WebhookSecret { get; set; } = "";

    /// <summary>Where Stripe's API lives; tests point it at a local fake.</summary>
    public string ApiBase { get; set; } = StripeClient.DefaultApiBase;

    /// <summary>Price ids by plan and interval: <c>Stripe:Prices:pro:month = price_…</c>.</summary>
    public Dictionary<string, Dictionary<string, string>> Prices { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    public double TimeoutSeconds { get; set; } = 20;

    public int MaxNetworkRetries { get; set; } = 2;

    public bool IsConfigured => !string.IsNullOrWhiteSpace(SecretKey);

    /// <summary>The configured price of a plan and interval, or null when the operator offers none.</summary>
    public string? PriceFor(string plan, string interval) =>
        Prices.TryGetValue(plan, out var byInterval) && byInterval.TryGetValue(interval, out var price) && !string.IsNullOrWhiteSpace(price)
            ? price.Trim()
            : null;

    /// <summary>The plan a configured price id sells, or null for a price the operator does not know.</summary>
    public string? PlanOf(string? priceId) =>
        priceId is null
            ? null
            : Prices.Where(p => p.Value.Values.Any(v => string.Equals(v?.Trim(), priceId, StringComparison.Ordinal)))
                .Select(p => p.Key.ToLowerInvariant())
                .FirstOrDefault();
}

/// <summary>
/// Stripe through Stripe.net: one client for the process, pinned to the API version this Stripe.net
/// release was generated for (<see cref="ApiVersion"/>), so a dashboard upgrade never changes what
/// the service sends or parses. The webhook endpoint in Stripe should use the same version.
/// </summary>
public static class StripeSetup
{
    /// <summary>The Stripe API version every request and every parsed event is read with.</summary>
    public static string ApiVersion => StripeConfiguration.ApiVersion;

    /// <summary>Stripe's signature tolerance: a webhook older than this is refused (replays).</summary>
    public const long WebhookToleranceSeconds = 300;

    public static IServiceCollection AddStripe(this IServiceCollection services)
    {
        services.AddOptions<StripeOptions>()
            .BindConfiguration("Stripe")
            .Validate(o => Uri.TryCreate(o.ApiBase, UriKind.Absolute, out _), "Stripe:ApiBase must be an absolute URL.")
            .Validate(o => o.TimeoutSeconds > 0, "Stripe:TimeoutSeconds must be positive.")
            .ValidateOnStart();
        services.AddSingleton<IStripeClient>(sp =>
        {
            var options = sp.GetRequiredService<IOptions<StripeOptions>>().Value;
            var http = new HttpClient { Timeout = TimeSpan.FromSeconds(options.TimeoutSeconds) };
            return new StripeClient(
                apiKey: options.IsConfigured ? options.SecretKey.Trim() : "sk_unconfigured",
                httpClient: new SystemNetHttpClient(http, options.MaxNetworkRetries),
                apiBase: options.ApiBase.TrimEnd('/'));
        });
        return services;
    }

    /// <summary>Stripe answered with an error, or could not be reached in time (not the caller giving up).</summary>
    public static bool IsFailure(Exception e, CancellationToken ct) =>
        e is StripeException or HttpRequestException || (e is TaskCanceledException && !ct.IsCancellationRequested);

    /// <summary>The answer when Stripe is not configured or cannot be reached: the clinic may retry later.</summary>
    public static ApiProblem Unavailable() => ApiProblem.Of(StatusCodes.Status503ServiceUnavailable, ErrorCodes.ServiceUnavailable, new(
        "The payment provider is not available right now. Try again later.",
        "El proveedor de pagos no está disponible en este momento. Inténtelo más tarde.",
        "Der Zahlungsanbieter ist gerade nicht erreichbar. Bitte später erneut versuchen."));
}
