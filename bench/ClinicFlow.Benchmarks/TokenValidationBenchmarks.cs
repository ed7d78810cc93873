using BenchmarkDotNet.Attributes;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace ClinicFlow.Benchmarks;

/// <summary>
/// The bearer check of every authenticated request: <c>CachingTokenHandler</c> (a token already
/// validated once, the common case of a client sending the same token for hours) beside a plain
/// <c>JsonWebTokenHandler</c> checking the ES256 signature, issuer, audience and lifetime anew.
/// Everything comes from the app's own wiring: <c>AddClinicAuth</c> with a fresh P-256 key, the token
/// from <c>JwtIssuer.Issue</c> and the <c>TokenValidationParameters</c> the JWT bearer scheme ends up with.
/// </summary>
[MemoryDiagnoser]
public class TokenValidationBenchmarks
{
    private IServiceProvider? _services;
    private JsonWebTokenHandler _plain = null!;
    private CachingTokenHandler _caching = null!;
    private TokenValidationParameters _parameters = null!;
    private string _token = null!;

    [GlobalSetup]
    public void Setup()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Jwt:SigningKeys:0"] = SigningKeys.NewPem() })
            .Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddSingleton<IHostEnvironment>(new ProductionEnvironment());
        services.AddLogging();
        services.AddClinicAuth();
        _services = services.BuildServiceProvider();

        var bearer = _services.GetRequiredService<IOptionsMonitor<JwtBearerOptions>>().Get(JwtBearerDefaults.AuthenticationScheme);
        _parameters = bearer.TokenValidationParameters;
        _caching = _services.GetRequiredService<CachingTokenHandler>();
        if (bearer.TokenHandlers.Count != 1 || !ReferenceEquals(bearer.TokenHandlers[0], _caching))
        {
            throw new InvalidOperationException("The JWT bearer scheme no longer validates with the CachingTokenHandler singleton.");
        }

        // The library's plain path with the same settings AddClinicAuth gives the app's handler.
        _plain = new JsonWebTokenHandler { MapInboundClaims = false };
        _token = _services.GetRequiredService<JwtIssuer>()
            .Issue(new TokenSubject(Guid.NewGuid(), "doctor@example.org", "admin", Guid.NewGuid(), 1)).Token;

        // Both accept the token (and the caching one now holds it: every measured call is a hit).
        Require(_plain.ValidateTokenAsync(_token, _parameters).GetAwaiter().GetResult(), nameof(JsonWebTokenHandler));
        Require(_caching.ValidateTokenAsync(_token, _parameters).GetAwaiter().GetResult(), nameof(CachingTokenHandler));
        if (_caching.Count != 1)
        {
            throw new InvalidOperationException("The CachingTokenHandler did not keep the validated token.");
        }
    }

    [Benchmark(Baseline = true)]
    public Task<TokenValidationResult> PlainHandler() => _plain.ValidateTokenAsync(_token, _parameters);

    [Benchmark]
    public Task<TokenValidationResult> CachingHandler() => _caching.ValidateTokenAsync(_token, _parameters);

    [GlobalCleanup]
    public void Cleanup() => (_services as IDisposable)?.Dispose();

    private static void Require(TokenValidationResult result, string handler)
    {
        if (!result.IsValid || result.ClaimsIdentity.FindFirst("sub") is null)
        {
            throw new InvalidOperationException($"{handler} rejected the token: {result.Exception?.Message}");
        }
    }

    private sealed class ProductionEnvironment : IHostEnvironment
    {
        public string EnvironmentName { get; set; } = "Production";

        public string ApplicationName { get; set; } = "ClinicFlow";

        public string ContentRootPath { get; set; } = AppContext.BaseDirectory;

        public IFileProvider ContentRootFileProvider { get; set; } = new NullFileProvider();
    }
}
