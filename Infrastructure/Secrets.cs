using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace ClinicFlow.Infrastructure;

public sealed class SecretsOptions
{
    /// <summary>32 random bytes, base64: the key of secrets stored at rest (feed tokens, WhatsApp tokens).</summary>
    public string EncryptionKey { get; set; } = "";
}

/// <summary>
/// Secrets the service must show again (ICS URLs, the check-in QR) or use later (access tokens):
/// sealed with AES-256-GCM, bound to the row they belong to, so a copied ciphertext opens nowhere
/// else. Bearer tokens are found by their SHA-256 only, so the database alone gives none away.
/// </summary>
public sealed class SecretBox
{
    private const string Version = "v1";
    private const int NonceBytes = 12;
    private const int TagBytes = 16;
    private readonly byte[] _key;

    public SecretBox(IOptions<SecretsOptions> options, IHostEnvironment environment)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(environment);
        var configured = options.Value.EncryptionKey;
        if (string.IsNullOrWhiteSpace(configured))
        {
            if (!environment.IsDevelopment())
            {
                throw new OptionsValidationException("Secrets:EncryptionKey", typeof(SecretsOptions), [MissingKey]);
            }

            configured = DevelopmentKey(environment.ContentRootPath);
        }

        _key = Parse(configured) ?? throw new OptionsValidationException("Secrets:EncryptionKey", typeof(SecretsOptions), [BadKey]);
    }

    internal const string MissingKey =
        "Secrets:EncryptionKey is required outside Development: set Secrets__EncryptionKey to 32 random bytes in base64 (openssl rand -base64 32).";

    internal const string BadKey = "Secrets:EncryptionKey must be 32 bytes in base64 (openssl rand -base64 32).";

    /// <summary>A new bearer secret: 192 random bits, URL-safe.</summary>
    public static string NewToken() => Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(24));

    /// <summary>How a bearer secret is stored and looked up.</summary>
    public static byte[] Hash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    /// <summary>Encrypts <paramref name="plaintext"/> for the row named by <paramref name="context"/>.</summary>
    public string Seal(string plaintext, string context)
    {
        var data = Encoding.UTF8.GetBytes(plaintext);
        var sealedBytes = new byte[NonceBytes + TagBytes + data.Length];
        var nonce = sealedBytes.AsSpan(0, NonceBytes);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_key, TagBytes);
        aes.Encrypt(nonce, data, sealedBytes.AsSpan(NonceBytes + TagBytes), sealedBytes.AsSpan(NonceBytes, TagBytes),
            Encoding.UTF8.GetBytes(context));
        return Version + "." + Base64UrlEncoder.Encode(sealedBytes);
    }

    /// <summary>The plaintext, or null when the value was not sealed for this context with this key.</summary>
    public string? Open(string sealedValue, string context)
    {
        ArgumentNullException.ThrowIfNull(sealedValue);
        if (!sealedValue.StartsWith(Version + ".", StringComparison.Ordinal))
        {
            return null;
        }

        byte[] bytes;
        try
        {
            bytes = Base64UrlEncoder.DecodeBytes(sealedValue[(Version.Length + 1)..]);
        }
        catch (FormatException)
        {
            return null;
        }

        if (bytes.Length < NonceBytes + TagBytes)
        {
            return null;
        }

        var plaintext = new byte[bytes.Length - NonceBytes - TagBytes];
        try
        {
            using var aes = new AesGcm(_key, TagBytes);
            aes.Decrypt(bytes.AsSpan(0, NonceBytes), bytes.AsSpan(NonceBytes + TagBytes), bytes.AsSpan(NonceBytes, TagBytes),
                plaintext, Encoding.UTF8.GetBytes(context));
        }
        catch (AuthenticationTagMismatchException)
        {
            return null;
        }

        return Encoding.UTF8.GetString(plaintext);
    }

    internal static byte[]? Parse(string base64)
    {
        try
        {
            var key = Convert.FromBase64String(base64.Trim());
            return key.Length == 32 ? key : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static string DevelopmentKey(string contentRoot)
    {
        var path = Path.Combine(contentRoot, ".data", "secrets-encryption-key");
        if (!File.Exists(path))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
        }

        return File.ReadAllText(path);
    }
}

/// <summary>Start-up check: the key is required outside Development and must be 32 bytes.</summary>
public sealed class SecretsOptionsValidator(IHostEnvironment environment) : IValidateOptions<SecretsOptions>
{
    public ValidateOptionsResult Validate(string? name, SecretsOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(options.EncryptionKey))
        {
            return environment.IsDevelopment() ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(SecretBox.MissingKey);
        }

        return SecretBox.Parse(options.EncryptionKey) is null ? ValidateOptionsResult.Fail(SecretBox.BadKey) : ValidateOptionsResult.Success;
    }
}

public static class SecretsSetup
{
    public static IServiceCollection AddSecretBox(this IServiceCollection services)
    {
        services.AddOptions<SecretsOptions>().BindConfiguration("Secrets").ValidateOnStart();
        services.AddSingleton<IValidateOptions<SecretsOptions>, SecretsOptionsValidator>();
        services.AddSingleton<SecretBox>();
        return services;
    }
}
