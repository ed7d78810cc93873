using Carter;
using ClinicFlow.Infrastructure;

namespace ClinicFlow.Slices.Auth;

/// <summary>GET /.well-known/jwks.json: the public keys that verify the service's tokens.</summary>
public sealed class GetJwks : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapGet("/.well-known/jwks.json", (SigningKeys keys, HttpContext http) =>
            {
                http.Response.Headers.CacheControl = "public, max-age=300";
                return TypedResults.Json(keys.Jwks());
            })
            .AllowAnonymous()
            .WithTags("Auth")
            .WithName(nameof(GetJwks))
            .WithSummary("Public signing keys (JWKS)");
}
