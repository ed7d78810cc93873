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
            options.AddDocumentTransformer((document, _, _) =>
            {
                document.Info = new OpenApiInfo
                {
                    Title = "ClinicFlow API",
                    Version = "v1",
                    Description = "Scheduling, patients, consent and billing for medical and dental practices.",
                };
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
                if (scheme is not null)
                {
                    operation.Security ??= [];
                    operation.Security.Add(new OpenApiSecurityRequirement
                    {
                        [new OpenApiSecuritySchemeReference(scheme.Scheme, context.Document)] = [],
                    });
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
