using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using FluentValidation;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.Routing;

namespace ClinicFlow.Infrastructure;

public sealed class ForwardedHeadersSettings
{
    /// <summary>Proxies whose X-Forwarded-For is trusted; default loopback.</summary>
    public List<string> KnownProxies { get; set; } = ["127.0.0.1", "::1"];
}

public sealed class HttpLimits
{
    /// <summary>Largest request body a route takes unless it declares its own (uploads do).</summary>
    public long MaxBodyBytes { get; set; } = 1024 * 1024;
}

public sealed class PublicUrlOptions
{
    public string PublicBaseUrl { get; set; } = "http://localhost:3001";
}

public static class HttpSetup
{
    /// <summary>JSON conventions of SPEC §1, trusted proxies, request-shape errors as exceptions.</summary>
    public static IServiceCollection AddClinicHttp(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<JsonOptions>(options =>
        {
            options.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
            options.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower));
            options.SerializerOptions.Converters.Add(new UtcInstantConverter());
            options.SerializerOptions.Converters.Add(new SafeStringConverter());
        });

        // Binding failures throw BadHttpRequestException, which the error contract turns into 400/415.
        services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        services.Configure<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>(o => o.Limits.MaxRequestBodySize = 25 * 1024 * 1024);

        var proxies = configuration.GetSection("ForwardedHeaders").Get<ForwardedHeadersSettings>() ?? new ForwardedHeadersSettings();
        services.Configure<ForwardedHeadersOptions>(options =>
        {
            options.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            options.ForwardLimit = 1;
            options.KnownIPNetworks.Clear();
            options.KnownProxies.Clear();
            foreach (var proxy in proxies.KnownProxies)
            {
                options.KnownProxies.Add(IPAddress.Parse(proxy));
            }
        });

        services.AddOptions<PublicUrlOptions>().Bind(configuration);
        services.AddOptions<HttpLimits>().BindConfiguration("Http");

        // SIGTERM: Kestrel stops accepting, in-flight requests and the message being sent finish
        // within this bound (below the 30 s an orchestrator waits before SIGKILL).
        var shutdownSeconds = configuration.GetValue("Shutdown:TimeoutSeconds", 25.0);
        services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(shutdownSeconds));
        ValidatorOptions.Global.PropertyNameResolver = (_, member, expression) =>
            member is null ? null : JsonNamingPolicy.CamelCase.ConvertName(member.Name);
        ValidatorOptions.Global.DisplayNameResolver = (_, member, _) =>
            member is null ? null : JsonNamingPolicy.CamelCase.ConvertName(member.Name);
        return services;
    }

    /// <summary>
    /// 413 PAYLOAD_TOO_LARGE before the body is read when Content-Length exceeds the route's limit
    /// (<see cref="IRequestSizeLimitMetadata"/>) or Http:MaxBodyBytes; Kestrel enforces the same
    /// limit on chunked bodies while reading.
    /// </summary>
    public static IApplicationBuilder UseBodySizeLimit(this IApplicationBuilder app) =>
        app.Use(async (context, next) =>
        {
            var limit = context.GetEndpoint()?.Metadata.GetMetadata<IRequestSizeLimitMetadata>()?.MaxRequestBodySize
                ?? context.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<HttpLimits>>().Value.MaxBodyBytes;
            if (context.Request.ContentLength > limit)
            {
                await ErrorWriter.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, ErrorCodes.PayloadTooLarge);
                return;
            }

            if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature)
            {
                feature.MaxRequestBodySize = limit;
            }

            await next(context);
        });

    /// <summary>An absolute link the API hands out (reset, invites, ICS, check-in).</summary>
    public static string PublicUrl(this HttpContext http, string path)
    {
        ArgumentNullException.ThrowIfNull(http);
        var baseUrl = http.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<PublicUrlOptions>>().Value.PublicBaseUrl;
        return baseUrl.TrimEnd('/') + "/" + path.TrimStart('/');
    }
}

/// <summary>Instants leave the API in UTC with a Z (<c>2026-03-01T14:00:00Z</c>); any offset is accepted in.</summary>
public sealed class UtcInstantConverter : JsonConverter<DateTimeOffset>
{
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.GetDateTimeOffset();

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStringValue(value.UtcDateTime);
    }
}

/// <summary>How every slice reads optional text from a request.</summary>
public static class Input
{
    /// <summary>The trimmed text, or null for null, empty or blank input (a PATCH's "" clears a field).</summary>
    public static string? TrimToNull(this string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}
