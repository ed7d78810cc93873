using System.Reflection;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc.Infrastructure;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace ClinicFlow.Infrastructure;

public static class OpenApi
{
    public static IServiceCollection AddClinicOpenApi(this IServiceCollection services) =>
        services.AddOpenApi("v1", options =>
        {
            // Nested Request/Response records of different slices must not share a schema id, nor
            // their pages: ListUsers.Response → ListUsersResponse, Page<ListUsers.Response> → ListUsersResponsePage.
            options.CreateSchemaReferenceId = t => OwnType(t.Type) ? SchemaId(t.Type) : OpenApiOptions.CreateDefaultSchemaReferenceId(t);
            options.AddDocumentTransformer((document, context, _) =>
            {
                document.Info = new OpenApiInfo
                {
                    Title = "ClinicFlow API",
                    Version = "v1",
                    Description = "Scheduling, patients, consent and billing for medical and dental practices.",
                    License = new OpenApiLicense { Name = "Proprietary", Identifier = "LicenseRef-ClinicFlow-Proprietary" },
                };
                // Clients reach the API at its public address, not at whatever host served the document.
                var publicBase = context.ApplicationServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<PublicUrlOptions>>().Value.PublicBaseUrl;
                document.Servers = [new OpenApiServer { Url = publicBase.TrimEnd('/'), Description = "This deployment" }];

                // Every tag the operations use, described once (the reference groups by them).
                var tags = (document.Paths ?? [])
                    .SelectMany(p => p.Value.Operations?.Values ?? Enumerable.Empty<OpenApiOperation>())
                    .SelectMany(o => o.Tags ?? new HashSet<OpenApiTagReference>())
                    .Select(t => t.Name)
                    .OfType<string>()
                    .Distinct(StringComparer.Ordinal)
                    .Order(StringComparer.Ordinal);
                document.Tags = new HashSet<OpenApiTag>(tags.Select(name => new OpenApiTag
                {
                    Name = name,
                    Description = TagDescriptions.TryGetValue(name, out var text) ? text : name + " endpoints.",
                }));
                document.Components ??= new OpenApiComponents();
                document.Components.SecuritySchemes = new Dictionary<string, IOpenApiSecurityScheme>
                {
                    ["Bearer"] = new OpenApiSecurityScheme
                    {
                        Type = SecuritySchemeType.Http,
                        Scheme = "bearer",
                        BearerFormat = "JWT",
                        Description = "ES256 token from POST /api/auth/login.",
                    },
                    ["AdminKey"] = new OpenApiSecurityScheme
                    {
                        Type = SecuritySchemeType.ApiKey,
                        In = ParameterLocation.Header,
                        Name = "X-Admin-Key",
                        Description = "The operator's superadmin key.",
                    },
                };
                return Task.CompletedTask;
            });
            options.AddOperationTransformer((operation, context, _) =>
            {
                var scheme = context.Description.ActionDescriptor.EndpointMetadata.OfType<SecurityMetadata>().LastOrDefault();
                // Public operations say so (security: []) instead of leaving a client generator to guess.
                operation.Security = scheme is null
                    ? []
                    : [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(scheme.Scheme, context.Document)] = [] }];

                // Query parameters are bound case-insensitively; publish them in the JSON casing (from, not From).
                foreach (var parameter in operation.Parameters ?? [])
                {
                    if (parameter is OpenApiParameter { In: ParameterLocation.Query, Name: { Length: > 0 } name } concrete)
                    {
                        concrete.Name = JsonNamingPolicy.CamelCase.ConvertName(name);
                    }
                }

                return Task.CompletedTask;
            });
            options.AddSchemaTransformer((schema, context, _) =>
            {
                TypeConverted(schema, context);
                return Task.CompletedTask;
            });
            options.AddDocumentTransformer((document, _, _) =>
            {
                foreach (var (name, schema) in document.Components?.Schemas ?? new Dictionary<string, IOpenApiSchema>())
                {
                    if (name.EndsWith("Request", StringComparison.Ordinal) && schema is OpenApiSchema concrete)
                    {
                        RelaxRequestRequirements(concrete);
                    }
                }

                return Task.CompletedTask;
            });
            options.AddOperationTransformer(DeclareIdempotencyKey);
        });

    /// <summary>Every POST and PATCH of the route groups takes an optional Idempotency-Key (Idempotency.cs).</summary>
    private static async Task DeclareIdempotencyKey(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken ct)
    {
        var method = context.Description.HttpMethod ?? "";
        if (!(HttpMethods.IsPost(method) || HttpMethods.IsPatch(method))
            || !context.Description.ActionDescriptor.EndpointMetadata.OfType<IdempotentMetadata>().Any())
        {
            return;
        }

        operation.Parameters ??= [];
        operation.Parameters.Add(new OpenApiParameter
        {
            Name = Idempotency.Header,
            In = ParameterLocation.Header,
            Required = false,
            Description = "Makes a retry safe: the first request with this key runs and its answer is kept for 24 h; a retry with "
                + "the same body gets that answer with `Idempotent-Replayed: true`, another body 422 IDEMPOTENCY_KEY_REUSED, "
                + "a retry while the first still runs 409 IDEMPOTENCY_IN_PROGRESS. Error answers are not kept.",
            Schema = new OpenApiSchema { Type = JsonSchemaType.String, MinLength = 1, MaxLength = Idempotency.MaxKeyLength, Pattern = "^[\\x20-\\x7E]+$" },
        });
        operation.Responses ??= [];
        foreach (var (status, text) in new[] { ("409", "Conflict (also IDEMPOTENCY_IN_PROGRESS)"), ("422", "IDEMPOTENCY_KEY_REUSED") })
        {
            if (!operation.Responses.ContainsKey(status))
            {
                var schema = await context.GetOrCreateSchemaAsync(typeof(ApiError), null, ct);
                operation.Responses[status] = new OpenApiResponse
                {
                    Description = text,
                    Content = new Dictionary<string, OpenApiMediaType> { ["application/json"] = new() { Schema = schema } },
                };
            }
        }
    }

    private static readonly Dictionary<string, string> TagDescriptions = new(StringComparer.Ordinal)
    {
        ["Health"] = "Liveness and readiness probes for the orchestrator.",
        ["Auth"] = "Sign-up, sign-in, tokens, password reset and identity-provider sync.",
        ["Users"] = "The clinic's staff accounts and the caller's own profile.",
        ["Clinics"] = "The caller's clinic: profile, reminder rules, WhatsApp and the check-in QR.",
        ["Practice"] = "The consent product's practice: create one and read it.",
        ["Patients"] = "Patient records, search, import and export, blocking, erasure and data export.",
        ["Doctors"] = "Doctors, their weekly hours and time off.",
        ["Appointments"] = "Bookings, availability, attendance and reminders.",
        ["Attendance"] = "Public QR check-in at the front desk.",
        ["Ics"] = "Calendar subscription feeds (RFC 5545).",
        ["Audit"] = "The hash-chained audit trail and vault events.",
        ["Superadmin"] = "Operator endpoints behind the X-Admin-Key.",
        ["Demo-requests"] = "Public demo requests from the marketing site.",
        ["Jwks"] = "Public keys that verify the service's tokens.",
    };

    /// <summary>
    /// Types the API writes through its own converters (instants in UTC, strings checked for control
    /// characters) lose their JSON type in the generated schema: give it back, with null where the
    /// member may be null, so generated clients type every property.
    /// </summary>
    private static void TypeConverted(OpenApiSchema schema, OpenApiSchemaTransformerContext context) =>
        Complete(schema, context.JsonTypeInfo.Type, IsNullable(context));

    private static void Complete(OpenApiSchema schema, Type type, bool nullable)
    {
        var underlying = Nullable.GetUnderlyingType(type);
        var plain = underlying ?? type;
        nullable |= underlying is not null;
        if (schema.Type is null)
        {
            if (plain == typeof(string) || plain == typeof(DateTimeOffset) || plain.IsEnum)
            {
                schema.Type = JsonSchemaType.String;
                if (plain == typeof(DateTimeOffset))
                {
                    schema.Format = "date-time";
                }

                if (plain.IsEnum)
                {
                    // A shared enum schema: each use that may be null says so itself (oneOf null).
                    schema.Enum = schema.Enum?.Where(e => e is not null).ToList();
                }
                else if (nullable)
                {
                    schema.Type |= JsonSchemaType.Null;
                }
            }
            else if (plain == typeof(JsonElement))
            {
                // Free-form JSON the API passes through (a JWK, an audit entry's changes): an object.
                schema.Type = nullable ? JsonSchemaType.Object | JsonSchemaType.Null : JsonSchemaType.Object;
                schema.AdditionalProperties ??= new OpenApiSchema();
                schema.AdditionalPropertiesAllowed = true;
            }

            return;
        }

        // Collections of converted types come out with untyped items: type them from the element type.
        if (plain != typeof(string) && DictionaryValue(plain) is { } value && schema.AdditionalProperties is OpenApiSchema values)
        {
            Complete(values, value, nullable: false);
        }
        else if (plain != typeof(string) && ElementType(plain) is { } element && schema.Type.Value.HasFlag(JsonSchemaType.Array))
        {
            if (schema.Items is null)
            {
                schema.Items = new OpenApiSchema();
            }

            if (schema.Items is OpenApiSchema items)
            {
                Complete(items, element, nullable: false);
            }
        }
    }

    private static Type? ElementType(Type type) =>
        type.IsArray ? type.GetElementType()
        : type.GetInterfaces().Append(type).FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>))?
            .GetGenericArguments()[0];

    private static Type? DictionaryValue(Type type) =>
        type.GetInterfaces().Append(type)
            .FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IReadOnlyDictionary<,>)
                || i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IDictionary<,>))?
            .GetGenericArguments()[1];

    private static readonly NullabilityInfoContext Nullability = new();

    private static bool IsNullable(OpenApiSchemaTransformerContext context)
    {
        if (context.JsonPropertyInfo is { } property)
        {
            return property.AttributeProvider switch
            {
                PropertyInfo p => Nullability.Create(p).ReadState != NullabilityState.NotNull,
                FieldInfo f => Nullability.Create(f).ReadState != NullabilityState.NotNull,
                _ => property.IsGetNullable,
            };
        }

        return context.ParameterDescription?.ParameterDescriptor is IParameterInfoParameterDescriptor { ParameterInfo: { } parameter }
            ? Nullability.Create(parameter).WriteState != NullabilityState.NotNull
            : context.ParameterDescription is { IsRequired: false };
    }

    /// <summary>
    /// A request record's nullable members are optional (a PATCH leaves them unchanged); the
    /// generator lists every constructor parameter as required, which a client would enforce.
    /// </summary>
    private static void RelaxRequestRequirements(OpenApiSchema schema)
    {
        if (schema.Required is not { Count: > 0 } required || schema.Properties is null)
        {
            return;
        }

        foreach (var (name, property) in schema.Properties)
        {
            if (property is OpenApiSchema { Type: { } t } && t.HasFlag(JsonSchemaType.Null))
            {
                required.Remove(name);
            }
        }
    }

    private static bool OwnType(Type type) =>
        type.Assembly == typeof(OpenApi).Assembly && (type.IsNested || type.IsGenericType);

    private static string SchemaId(Type type)
    {
        if (type.IsGenericType)
        {
            var name = type.Name[..type.Name.IndexOf('`', StringComparison.Ordinal)];
            return string.Concat(type.GetGenericArguments().Select(SchemaId)) + name;
        }

        return type.IsNested && type.DeclaringType is { } slice ? slice.Name + type.Name : type.Name;
    }
}
