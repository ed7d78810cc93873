using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using System.Security.Claims;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace ClinicFlow.Infrastructure;

public sealed class JwtOptions
{
    [Required]
    public string Issuer { get; set; } = "clinicflow";

    [Required]
    public string Audience { get; set; } = "clinicflow-api";

    /// <summary>ES256 private keys (PEM), newest first: the first signs, all verify.</summary>
    public List<string> SigningKeys { get; set; } = [];

    [Range(1, 168)]
    public int LifetimeHours { get; set; } = 8;
}

/// <summary>The service's ES256 keys, loaded once. Production refuses to start without one.</summary>
public sealed class SigningKeys
{
    public SigningKeys(IOptions<JwtOptions> options, IHostEnvironment environment)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(environment);
        var pems = options.Value.SigningKeys.Where(k => !string.IsNullOrWhiteSpace(k)).ToList();
        if (pems.Count == 0)
        {
            if (!environment.IsDevelopment())
            {
                throw new OptionsValidationException("Jwt:SigningKeys", typeof(JwtOptions),
                    ["Jwt:SigningKeys is required outside Development: set Jwt__SigningKeys__0 to an ES256 (P-256) private key in PEM."]);
            }

            pems.Add(DevelopmentKey(environment.ContentRootPath));
        }

        Keys = pems.Select(Load).ToList();
    }

    /// <summary>All keys; <c>Keys[0]</c> signs.</summary>
    public IReadOnlyList<ECDsaSecurityKey> Keys { get; }

    public ECDsaSecurityKey Current => Keys[0];

    public static string NewPem()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return key.ExportPkcs8PrivateKeyPem();
    }

    /// <summary>The public halves as the keys of a JWKS document (RFC 7517).</summary>
    public IReadOnlyList<IReadOnlyDictionary<string, string>> PublicJwks() => Keys.Select(k =>
        {
            var p = k.ECDsa.ExportParameters(false);
            return new Dictionary<string, string>
            {
                ["kty"] = "EC",
                ["crv"] = "P-256",
                ["x"] = Base64UrlEncoder.Encode(p.Q.X),
                ["y"] = Base64UrlEncoder.Encode(p.Q.Y),
                ["kid"] = k.KeyId,
                ["use"] = "sig",
                ["alg"] = SecurityAlgorithms.EcdsaSha256,
            };
        }).ToArray<IReadOnlyDictionary<string, string>>();

    private static ECDsaSecurityKey Load(string pem)
    {
        var ecdsa = ECDsa.Create();
        ecdsa.ImportFromPem(pem);
        if (ecdsa.KeySize != 256)
        {
            throw new OptionsValidationException("Jwt:SigningKeys", typeof(JwtOptions), ["Jwt:SigningKeys must hold P-256 keys (ES256)."]);
        }

        var key = new ECDsaSecurityKey(ecdsa);
        // kid = RFC 7638 thumbprint of the public key: stable across restarts and replicas.
        key.KeyId = Base64UrlEncoder.Encode(JsonWebKeyConverter.ConvertFromECDsaSecurityKey(key).ComputeJwkThumbprint());
        return key;
    }

    private static string DevelopmentKey(string contentRoot)
    {
        var path = Path.Combine(contentRoot, ".data", "jwt-signing-key.pem");
        if (!File.Exists(path))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, NewPem());
        }

        return File.ReadAllText(path);
    }
}

/// <summary>Start-up check: outside Development a signing key is required, and every key must load.</summary>
public sealed class JwtOptionsValidator(IHostEnvironment environment) : IValidateOptions<JwtOptions>
{
    public ValidateOptionsResult Validate(string? name, JwtOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var pems = options.SigningKeys.Where(k => !string.IsNullOrWhiteSpace(k)).ToList();
        if (pems.Count == 0)
        {
            return environment.IsDevelopment()
                ? ValidateOptionsResult.Success
                : ValidateOptionsResult.Fail("Jwt:SigningKeys is required outside Development: set Jwt__SigningKeys__0 to an ES256 (P-256) private key in PEM.");
        }

        for (var i = 0; i < pems.Count; i++)
        {
            try
            {
                using var key = ECDsa.Create();
                key.ImportFromPem(pems[i]);
                if (key.KeySize != 256)
                {
                    return ValidateOptionsResult.Fail($"Jwt:SigningKeys:{i} is not a P-256 key (ES256).");
                }
            }
            catch (ArgumentException)
            {
                return ValidateOptionsResult.Fail($"Jwt:SigningKeys:{i} is not a PEM private key.");
            }
            catch (CryptographicException)
            {
                return ValidateOptionsResult.Fail($"Jwt:SigningKeys:{i} is not an EC private key.");
            }
        }

        return ValidateOptionsResult.Success;
    }
}

/// <summary>Who a token is for.</summary>
public sealed record TokenSubject(Guid UserId, string Email, string? Role, Guid? ClinicId, int TokenVersion);

/// <summary>The only code that signs tokens.</summary>
public sealed class JwtIssuer(SigningKeys keys, IOptions<JwtOptions> options, TimeProvider clock)
{
    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false };

    public (string Token, DateTimeOffset ExpiresAt) Issue(TokenSubject subject)
    {
        ArgumentNullException.ThrowIfNull(subject);
        var now = clock.GetUtcNow();
        var expires = now.AddHours(options.Value.LifetimeHours);
        var claims = new Dictionary<string, object>
        {
            ["sub"] = subject.UserId.ToString(),
            ["email"] = subject.Email,
            ["role"] = "authenticated",
            ["tv"] = subject.TokenVersion,
            ["jti"] = Guid.CreateVersion7().ToString(),
        };
        if (subject.Role is not null)
        {
            claims["app_role"] = subject.Role;
        }

        if (subject.ClinicId is { } clinicId)
        {
            claims["clinic_id"] = clinicId.ToString();
        }

        var token = _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = options.Value.Issuer,
            Audience = options.Value.Audience,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = expires.UtcDateTime,
            Claims = claims,
            SigningCredentials = new SigningCredentials(keys.Current, SecurityAlgorithms.EcdsaSha256),
        });
        return (token, expires);
    }
}

public static class AuthSetup
{
    public static IServiceCollection AddClinicAuth(this IServiceCollection services)
    {
        services.AddOptions<JwtOptions>().BindConfiguration("Jwt").ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<IValidateOptions<JwtOptions>, JwtOptionsValidator>();
        services.AddOptions<SuperadminOptions>().BindConfiguration("Superadmin");
        services.AddOptions<AuthOptions>().BindConfiguration("Auth");
        services.AddSingleton<SigningKeys>();
        services.AddSingleton<JwtIssuer>();
        services.AddSingleton<PasswordHashing>();
        services.AddSingleton<CachingTokenHandler>();
        services.TryAddSingletonTimeProvider();

        services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer();
        services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
            .Configure<SigningKeys, IOptions<JwtOptions>, CachingTokenHandler>((bearer, keys, jwt, handler) =>
            {
                bearer.MapInboundClaims = false;
                handler.MapInboundClaims = false;
                bearer.TokenHandlers.Clear();
                bearer.TokenHandlers.Add(handler);
                bearer.RequireHttpsMetadata = false;
                bearer.TokenValidationParameters = new TokenValidationParameters
                {
                    ValidIssuer = jwt.Value.Issuer,
                    ValidAudience = jwt.Value.Audience,
                    ValidAlgorithms = [SecurityAlgorithms.EcdsaSha256],
                    // Only the key the token names: no kid, or an unknown one, verifies nothing.
                    IssuerSigningKeyResolver = (_, _, kid, _) => keys.Keys.Where(k => k.KeyId == kid),
                    TryAllIssuerSigningKeys = false,
                    RequireSignedTokens = true,
                    RequireExpirationTime = true,
                    ValidateLifetime = true,
                    ClockSkew = TimeSpan.FromSeconds(30),
                    NameClaimType = "sub",
                    RoleClaimType = "role",
                };
                bearer.Events = new JwtBearerEvents
                {
                    OnChallenge = async context =>
                    {
                        context.HandleResponse();
                        var expired = context.AuthenticateFailure is SecurityTokenExpiredException;
                        await ErrorWriter.WriteAsync(context.HttpContext, StatusCodes.Status401Unauthorized,
                            expired ? ErrorCodes.TokenExpired : ErrorCodes.Unauthenticated);
                    },
                    OnForbidden = context => ErrorWriter.WriteAsync(context.HttpContext, StatusCodes.Status403Forbidden, ErrorCodes.Forbidden),
                };
            });
        services.AddAuthorization();
        return services;
    }

    private static void TryAddSingletonTimeProvider(this IServiceCollection services)
    {
        if (!services.Any(d => d.ServiceType == typeof(TimeProvider)))
        {
            services.AddSingleton(TimeProvider.System);
        }
    }

    /// <summary>The caller's IP after forwarded-header processing: the partition key of every limit.</summary>
    public static string ClientIp(this HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
    }

    public static Guid? UserIdOrNull(this ClaimsPrincipal principal) =>
        Guid.TryParse(principal.FindFirstValue("sub"), out var id) ? id : null;
}

public sealed class AuthOptions
{
    /// <summary>The x-auth-secret an identity provider sends to POST /api/auth/sync.</summary>
    public string? SyncSecret { get; set; }

    public bool RequireInviteCode { get; set; }

    /// <summary>PBKDF2-HMAC-SHA512 iterations; OWASP recommends 210 000.</summary>
    public int PasswordIterations { get; set; } = 210_000;

    /// <summary>How many validated tokens are remembered (0: check every signature).</summary>
    public int TokenCacheSize { get; set; } = 10_000;
}

/// <summary>
/// The bearer token check with a memory: a token string whose signature and claims were verified
/// once is not verified again until its own expiry (an ES256 check costs more than the rest of a
/// small request). Only successes are kept, keyed by the exact string, bounded in number, never
/// served past <c>exp</c>. Revocation is untouched: the tenant gate still reads the user's token
/// version, active flag and clinic on every request.
/// </summary>
public sealed class CachingTokenHandler(IOptions<AuthOptions> options) : JsonWebTokenHandler
{
    private sealed record Entry(TokenValidationResult Result, DateTime ExpiresUtc);

    private readonly ConcurrentDictionary<string, Entry> _cache = new(StringComparer.Ordinal);
    private readonly int _capacity = Math.Max(0, options.Value.TokenCacheSize);

    public int Count => _cache.Count;

    public override async Task<TokenValidationResult> ValidateTokenAsync(string token, TokenValidationParameters validationParameters)
    {
        if (_capacity > 0 && token is not null && _cache.TryGetValue(token, out var hit))
        {
            if (hit.ExpiresUtc > DateTime.UtcNow)
            {
                return Copy(hit.Result);
            }

            _cache.TryRemove(token, out _);
        }

        var result = await base.ValidateTokenAsync(token, validationParameters);
        if (_capacity > 0 && result.IsValid && result.SecurityToken is JsonWebToken jwt && jwt.ValidTo > DateTime.UtcNow)
        {
            if (_cache.Count >= _capacity)
            {
                Sweep();
            }

            if (_cache.Count < _capacity)
            {
                _cache.TryAdd(token!, new Entry(result, jwt.ValidTo));
            }
        }

        return result;
    }

    // Each request gets an identity of its own: nothing a request adds to it reaches another.
    private static TokenValidationResult Copy(TokenValidationResult cached) => new()
    {
        IsValid = true,
        ClaimsIdentity = cached.ClaimsIdentity.Clone(),
        SecurityToken = cached.SecurityToken,
        Issuer = cached.Issuer,
        TokenType = cached.TokenType,
    };

    // Full: drop what has expired; if everything is still valid, start over (a bound, not an LRU).
    private void Sweep()
    {
        var now = DateTime.UtcNow;
        foreach (var (key, entry) in _cache)
        {
            if (entry.ExpiresUtc <= now)
            {
                _cache.TryRemove(key, out _);
            }
        }

        if (_cache.Count >= _capacity)
        {
            _cache.Clear();
        }
    }
}

public sealed class SuperadminOptions
{
    public string? ApiKey { get; set; }
}

/// <summary>Password and PIN hashing with ASP.NET Core Identity's PasswordHasher (PBKDF2-SHA512).</summary>
public sealed class PasswordHashing
{
    private readonly Microsoft.AspNetCore.Identity.PasswordHasher<object> _hasher;
    private readonly string _dummyHash;

    public PasswordHashing(IOptions<AuthOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _hasher = new(Options.Create(new Microsoft.AspNetCore.Identity.PasswordHasherOptions
        {
            IterationCount = options.Value.PasswordIterations,
        }));
        _dummyHash = _hasher.HashPassword(this, "timing-equaliser-" + Guid.NewGuid());
    }

    public string Hash(string secret) => _hasher.HashPassword(this, secret);

    /// <summary>Verifies in constant work: an unknown user costs as much as a wrong password.</summary>
    public bool Verify(string? hash, string secret) =>
        _hasher.VerifyHashedPassword(this, hash ?? _dummyHash, secret) != Microsoft.AspNetCore.Identity.PasswordVerificationResult.Failed
        && hash is not null;

    /// <summary>Compares two secrets in constant time, whatever their lengths.</summary>
    public static bool SecretEquals(string? expected, string? given)
    {
        if (string.IsNullOrEmpty(expected) || given is null)
        {
            return false;
        }

        var a = SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(expected));
        var b = SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(given));
        return CryptographicOperations.FixedTimeEquals(a, b);
    }
}

/// <summary>Superadmin: the X-Admin-Key header compared in constant time; failures count toward FailedAuth.</summary>
public sealed class SuperadminGate : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        var http = context.HttpContext;
        var limiter = http.RequestServices.GetRequiredService<FailedAttemptLimiter>();
        if (limiter.IsBlocked(http))
        {
            return ApiProblem.Of(StatusCodes.Status429TooManyRequests, ErrorCodes.RateLimited);
        }

        var expected = http.RequestServices.GetRequiredService<IOptions<SuperadminOptions>>().Value.ApiKey;
        if (!PasswordHashing.SecretEquals(expected, http.Request.Headers["X-Admin-Key"].FirstOrDefault()))
        {
            limiter.RecordFailure(http);
            return ApiProblem.Unauthorized();
        }

        return await next(context);
    }
}
