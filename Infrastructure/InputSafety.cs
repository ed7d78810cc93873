using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace ClinicFlow.Infrastructure;

/// <summary>
/// Text that no field of this API can hold: NUL (PostgreSQL refuses it in text), the other C0
/// control characters except tab, line feed and carriage return, and unpaired UTF-16 surrogates
/// (not encodable as UTF-8). Refused once, for every JSON string, query value and form field, as
/// <c>400 VALIDATION_ERROR</c> naming the field — never a 500 from the database.
/// </summary>
public static class InputSafety
{
    private static readonly SearchValues<char> Forbidden = SearchValues.Create(
        "\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\u0008\u000B\u000C\u000E\u000F"
        + "\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001A\u001B\u001C\u001D\u001E\u001F");

    public static readonly Text Message = new(
        "Must not contain control characters.",
        "No debe contener caracteres de control.",
        "Darf keine Steuerzeichen enthalten.");

    /// <summary>True when <paramref name="value"/> holds a character no field may hold.</summary>
    public static bool IsUnsafe(ReadOnlySpan<char> value)
    {
        if (value.ContainsAny(Forbidden))
        {
            return true;
        }

        // Surrogates are rare: only look closer when one is present at all.
        var surrogate = value.IndexOfAnyInRange('\uD800', '\uDFFF');
        if (surrogate < 0)
        {
            return false;
        }

        for (var i = surrogate; i < value.Length; i++)
        {
            if (char.IsHighSurrogate(value[i]) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(value[i]))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Refuses a request whose query string holds an unsafe value, before any handler runs.</summary>
    public static IApplicationBuilder UseInputSafety(this IApplicationBuilder app) =>
        app.Use(async (context, next) =>
        {
            if (context.Request.QueryString.HasValue)
            {
                foreach (var (key, values) in context.Request.Query)
                {
                    if (IsUnsafe(key) || values.Any(v => v is not null && IsUnsafe(v)))
                    {
                        var field = IsUnsafe(key) ? "query" : key;
                        await ErrorWriter.WriteAsync(context, StatusCodes.Status400BadRequest, new ApiError(
                            ErrorCodes.DefaultMessage(ErrorCodes.ValidationError), ErrorCodes.ValidationError,
                            new Dictionary<string, string[]> { [field] = [Message.Current] }));
                        return;
                    }
                }
            }

            await next(context);
        });
}

/// <summary>Thrown while reading JSON when a string holds text no field may hold (see <see cref="InputSafety"/>).</summary>
public sealed class UnsafeTextException : JsonException
{
    public UnsafeTextException()
        : base("The value contains control characters.")
    {
    }

    public UnsafeTextException(string message)
        : base(message)
    {
    }

    public UnsafeTextException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>Every JSON string the API reads passes here; the serializer adds the field's path to the error.</summary>
public sealed class SafeStringConverter : JsonConverter<string>
{
    public override bool HandleNull => false;

    public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var value = reader.GetString();
        return value is not null && InputSafety.IsUnsafe(value) ? throw new UnsafeTextException() : value;
    }

    public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStringValue(value);
    }

    // Dictionary keys (e.g. a validation error's details) keep the default behaviour, checked the same way on input.
    public override string ReadAsPropertyName(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var value = reader.GetString() ?? "";
        return InputSafety.IsUnsafe(value) ? throw new UnsafeTextException() : value;
    }

    public override void WriteAsPropertyName(Utf8JsonWriter writer, string value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WritePropertyName(value);
    }
}
