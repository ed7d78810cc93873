using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using FluentValidation.Results;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Net.Http.Headers;

namespace ClinicFlow.Infrastructure;

/// <summary>The one error shape of SPEC §1: <c>{ error, code, details? }</c>.</summary>
public sealed record ApiError(
    string Error,
    string Code,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyDictionary<string, string[]>? Details = null)
{
    /// <summary>The request's <c>X-Request-Id</c>, to quote when reporting a problem; set by the writer.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? RequestId { get; init; }
}

/// <summary>A human-readable message in the three languages the API speaks; picked by Accept-Language.</summary>
public sealed record Text(string En, string Es, string De)
{
    // Invariant globalization keeps culture names but not their data: match on the name.
    public string Current => CultureInfo.CurrentUICulture.Name switch
    {
        var n when n.StartsWith("es", StringComparison.Ordinal) => Es,
        var n when n.StartsWith("de", StringComparison.Ordinal) => De,
        _ => En,
    };
}

/// <summary>Machine-readable codes of SPEC §1 and their default messages.</summary>
public static class ErrorCodes
{
    public const string ValidationError = "VALIDATION_ERROR";
    public const string InvalidJson = "INVALID_JSON";
    public const string InvalidSignature = "INVALID_SIGNATURE";
    public const string Unauthenticated = "UNAUTHENTICATED";
    public const string TokenExpired = "TOKEN_EXPIRED";
    public const string InvalidCredentials = "INVALID_CREDENTIALS";
    public const string SubscriptionExpired = "SUBSCRIPTION_EXPIRED";
    public const string Forbidden = "FORBIDDEN";
    public const string UserInactive = "USER_INACTIVE";
    public const string PlanUpgradeRequired = "PLAN_UPGRADE_REQUIRED";
    public const string DoctorLimitReached = "DOCTOR_LIMIT_REACHED";
    public const string UserLimitReached = "USER_LIMIT_REACHED";
    public const string NotFound = "NOT_FOUND";
    public const string MethodNotAllowed = "METHOD_NOT_ALLOWED";
    public const string Conflict = "CONFLICT";
    public const string AlreadyExists = "ALREADY_EXISTS";
    public const string AppointmentConflict = "APPOINTMENT_CONFLICT";
    public const string PatientBlocked = "PATIENT_BLOCKED";
    public const string InvalidState = "INVALID_STATE";
    public const string LinkExpired = "LINK_EXPIRED";
    public const string LinkRevoked = "LINK_REVOKED";
    public const string PayloadTooLarge = "PAYLOAD_TOO_LARGE";
    public const string UnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE";
    public const string RateLimited = "RATE_LIMITED";
    public const string InternalError = "INTERNAL_ERROR";
    public const string ServiceUnavailable = "SERVICE_UNAVAILABLE";

    private static readonly Dictionary<string, Text> Defaults = new()
    {
        [ValidationError] = new("The request is not valid.", "La solicitud no es válida.", "Die Anfrage ist ungültig."),
        [InvalidJson] = new("The request body is not valid JSON.", "El cuerpo de la solicitud no es JSON válido.", "Der Anfragetext ist kein gültiges JSON."),
        [Unauthenticated] = new("Authentication is required.", "Se requiere autenticación.", "Anmeldung erforderlich."),
        [TokenExpired] = new("The token has expired.", "El token ha expirado.", "Das Token ist abgelaufen."),
        [InvalidCredentials] = new("Invalid credentials.", "Credenciales inválidas.", "Ungültige Anmeldedaten."),
        [SubscriptionExpired] = new("The clinic's subscription has expired.", "La suscripción de la clínica ha expirado.", "Das Abonnement der Praxis ist abgelaufen."),
        [Forbidden] = new("You are not allowed to do this.", "No tiene permiso para hacer esto.", "Dazu sind Sie nicht berechtigt."),
        [UserInactive] = new("This user is inactive.", "Este usuario está inactivo.", "Dieser Benutzer ist deaktiviert."),
        [PlanUpgradeRequired] = new("This feature needs a higher plan.", "Esta función requiere un plan superior.", "Diese Funktion erfordert einen höheren Tarif."),
        [DoctorLimitReached] = new("The plan's doctor limit is reached.", "Se alcanzó el límite de médicos del plan.", "Die Ärztegrenze des Tarifs ist erreicht."),
        [UserLimitReached] = new("The plan's user limit is reached.", "Se alcanzó el límite de usuarios del plan.", "Die Benutzergrenze des Tarifs ist erreicht."),
        [NotFound] = new("Not found.", "No encontrado.", "Nicht gefunden."),
        [MethodNotAllowed] = new("Method not allowed.", "Método no permitido.", "Methode nicht erlaubt."),
        [Conflict] = new("The request conflicts with the current state.", "La solicitud entra en conflicto con el estado actual.", "Die Anfrage steht im Konflikt mit dem aktuellen Zustand."),
        [AlreadyExists] = new("It already exists.", "Ya existe.", "Existiert bereits."),
        [InvalidState] = new("Not allowed in the current state.", "No permitido en el estado actual.", "Im aktuellen Zustand nicht erlaubt."),
        [LinkExpired] = new("This link has expired.", "Este enlace ha expirado.", "Dieser Link ist abgelaufen."),
        [LinkRevoked] = new("This link has been revoked.", "Este enlace fue revocado.", "Dieser Link wurde widerrufen."),
        [PayloadTooLarge] = new("The request body is too large.", "El cuerpo de la solicitud es demasiado grande.", "Der Anfragetext ist zu groß."),
        [UnsupportedMediaType] = new("Unsupported content type.", "Tipo de contenido no admitido.", "Nicht unterstützter Inhaltstyp."),
        [RateLimited] = new("Too many requests. Try again later.", "Demasiadas solicitudes. Inténtelo más tarde.", "Zu viele Anfragen. Bitte später erneut versuchen."),
        [InternalError] = new("An unexpected error occurred.", "Ocurrió un error inesperado.", "Ein unerwarteter Fehler ist aufgetreten."),
        [ServiceUnavailable] = new("The service is temporarily unavailable.", "El servicio no está disponible temporalmente.", "Der Dienst ist vorübergehend nicht verfügbar."),
    };

    public static string DefaultMessage(string code) =>
        Defaults.TryGetValue(code, out var text) ? text.Current : code;
}

/// <summary>
/// The typed result every slice returns for a failure. One type for every error status keeps
/// <c>Results&lt;…&gt;</c> unions short; the statuses an endpoint can answer are declared on the
/// route (see <see cref="ErrorMetadata"/>).
/// </summary>
public sealed class ApiProblem : IResult, IStatusCodeHttpResult, IValueHttpResult<ApiError>, IValueHttpResult, IContentTypeHttpResult
{
    private ApiProblem(int statusCode, ApiError value)
    {
        StatusCode = statusCode;
        Value = value;
    }

    public int StatusCode { get; }

    public ApiError Value { get; }

    public string ContentType => "application/json; charset=utf-8";

    int? IStatusCodeHttpResult.StatusCode => StatusCode;

    object? IValueHttpResult.Value => Value;

    public static ApiProblem Of(int status, string code, Text? message = null, IReadOnlyDictionary<string, string[]>? details = null) =>
        new(status, new ApiError(message?.Current ?? ErrorCodes.DefaultMessage(code), code, details));

    public static ApiProblem NotFound() => Of(StatusCodes.Status404NotFound, ErrorCodes.NotFound);

    public static ApiProblem Forbidden(string code = ErrorCodes.Forbidden, Text? message = null) =>
        Of(StatusCodes.Status403Forbidden, code, message);

    public static ApiProblem Conflict(string code, Text? message = null) =>
        Of(StatusCodes.Status409Conflict, code, message);

    public static ApiProblem Unauthorized(string code = ErrorCodes.Unauthenticated, Text? message = null) =>
        Of(StatusCodes.Status401Unauthorized, code, message);

    public static ApiProblem Validation(IReadOnlyDictionary<string, string[]> details) =>
        Of(StatusCodes.Status400BadRequest, ErrorCodes.ValidationError, details: details);

    public static ApiProblem Validation(ValidationResult result) =>
        Validation(result.ToDictionary().ToDictionary(kv => kv.Key, kv => kv.Value));

    /// <summary>A single-field validation error.</summary>
    public static ApiProblem Validation(string field, Text message) =>
        Validation(new Dictionary<string, string[]> { [field] = [message.Current] });

    public Task ExecuteAsync(HttpContext httpContext)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        return ErrorWriter.WriteAsync(httpContext, StatusCode, Value);
    }
}

/// <summary>Writes the error contract for every failure the framework raises itself.</summary>
public static class ErrorWriter
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>What a 503 asks the client to wait before it retries.</summary>
    public const string ServiceUnavailableRetrySeconds = "2";

    public static Task WriteAsync(HttpContext context, int status, string code, string? message = null) =>
        WriteAsync(context, status, new ApiError(message ?? ErrorCodes.DefaultMessage(code), code));

    public static async Task WriteAsync(HttpContext context, int status, ApiError error)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.Response.HasStarted)
        {
            return;
        }

        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        if (status == StatusCodes.Status503ServiceUnavailable && !context.Response.Headers.ContainsKey(HeaderNames.RetryAfter))
        {
            // The database or a provider is away for a moment (pool exhausted, failover): try again soon.
            context.Response.Headers.RetryAfter = ServiceUnavailableRetrySeconds;
        }

        await context.Response.WriteAsJsonAsync(error with { RequestId = context.TraceIdentifier }, Json, context.RequestAborted);
    }

    /// <summary>Status-code pages: an empty 401/404/405/415/… becomes the error contract.</summary>
    public static Task WriteForStatusAsync(StatusCodeContext context)
    {
        var http = context.HttpContext;
        var code = http.Response.StatusCode switch
        {
            400 => ErrorCodes.ValidationError,
            401 => ErrorCodes.Unauthenticated,
            403 => ErrorCodes.Forbidden,
            404 => ErrorCodes.NotFound,
            405 => ErrorCodes.MethodNotAllowed,
            413 => ErrorCodes.PayloadTooLarge,
            415 => ErrorCodes.UnsupportedMediaType,
            429 => ErrorCodes.RateLimited,
            503 => ErrorCodes.ServiceUnavailable,
            >= 500 => ErrorCodes.InternalError,
            _ => ErrorCodes.ValidationError,
        };
        return WriteAsync(http, http.Response.StatusCode, code);
    }

    /// <summary>
    /// The exception handler: request-shape failures the framework throws become 400/413/415,
    /// an unreachable database 503, and anything else a logged 500 that reveals nothing.
    /// </summary>
    public static async Task HandleExceptionAsync(HttpContext context)
    {
        var feature = context.Features.Get<IExceptionHandlerFeature>();
        var exception = feature?.Error;
        switch (exception)
        {
            case BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge }:
                await WriteAsync(context, 413, ErrorCodes.PayloadTooLarge);
                return;
            case BadHttpRequestException { StatusCode: StatusCodes.Status415UnsupportedMediaType }:
                await WriteAsync(context, 415, ErrorCodes.UnsupportedMediaType);
                return;
            case BadHttpRequestException { InnerException: UnsafeTextException unsafeText }:
                await WriteAsync(context, 400, new ApiError(
                    ErrorCodes.DefaultMessage(ErrorCodes.ValidationError), ErrorCodes.ValidationError,
                    new Dictionary<string, string[]> { [FieldOf(unsafeText) ?? "request"] = [InputSafety.Message.Current] }));
                return;
            case BadHttpRequestException { InnerException: JsonException json }:
                await WriteAsync(context, 400, new ApiError(
                    ErrorCodes.DefaultMessage(ErrorCodes.InvalidJson), ErrorCodes.InvalidJson, JsonDetails(json)));
                return;
            case BadHttpRequestException bad:
                await WriteAsync(context, 400, new ApiError(
                    ErrorCodes.DefaultMessage(ErrorCodes.ValidationError),
                    ErrorCodes.ValidationError,
                    BindingDetails(bad.Message)));
                return;
            case not null when Database.IsUnavailable(exception):
                await WriteAsync(context, 503, ErrorCodes.ServiceUnavailable);
                return;
        }

        var logger = context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("ClinicFlow.Errors");
        Log.Unhandled(logger, exception, context.Request.Method, context.Request.Path, context.TraceIdentifier);
        await WriteAsync(context, 500, ErrorCodes.InternalError);
    }

    private static string? FieldOf(JsonException json)
    {
        var path = json.Path?.TrimStart('$').TrimStart('.');
        return string.IsNullOrEmpty(path) ? null : path;
    }

    // A value of the wrong type names its JSON path ($.role): point the client at the field.
    private static Dictionary<string, string[]>? JsonDetails(JsonException json)
    {
        var path = FieldOf(json);
        return path is null || json.InnerException is not null and not InvalidOperationException and not FormatException
            ? null
            : new Dictionary<string, string[]> { [path] = [$"The value of '{path}' is not valid."] };
    }

    // Minimal APIs say: Failed to bind parameter "int limit" from "abc". Keep only the public name.
    private static Dictionary<string, string[]> BindingDetails(string message)
    {
        var match = System.Text.RegularExpressions.Regex.Match(message, "parameter \"(?:[^\" ]+ )?(?<name>[A-Za-z0-9_]+)\"");
        var field = match.Success ? match.Groups["name"].Value : "request";
        return new Dictionary<string, string[]>
        {
            [field] = [match.Success ? $"The value of '{field}' is not valid." : "The request could not be read."],
        };
    }
}

/// <summary>Declares on a route which error statuses it can answer, for the OpenAPI document.</summary>
public static class ErrorMetadata
{
    public static TBuilder ProducesErrors<TBuilder>(this TBuilder builder, params int[] statuses)
        where TBuilder : IEndpointConventionBuilder
    {
        builder.Add(endpoint =>
        {
            foreach (var status in statuses)
            {
                endpoint.Metadata.Add(new ProducesResponseTypeMetadata(status, typeof(ApiError), ["application/json"]));
            }
        });
        return builder;
    }
}

internal static partial class Log
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Error, Message = "Unhandled exception on {Method} {Path} (trace {TraceId})")]
    public static partial void Unhandled(ILogger logger, Exception? exception, string method, string path, string traceId);
}
