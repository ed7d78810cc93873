using Carter;
using ClinicFlow.Infrastructure;

namespace ClinicFlow.Slices.Auth;

/// <summary>GET /.well-known/jwks.json: the public keys that verify the service's tokens.</summary>
public sealed class GetJwks : ICarterModule
{
    /// <summary>RFC 7517: <c>{ keys: [{ kty, crv, x, y, kid, use, alg }] }</c>.</summary>
    public sealed record Response(IReadOnlyList<IReadOnlyDictionary<string, string>> Keys);

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapGet("/.well-known/jwks.json", (SigningKeys keys, HttpContext http) =>
            {
                http.Response.Headers.CacheControl = "public, max-age=300";
                return TypedResults.Ok(new Response(keys.PublicJwks()));
            })
            .AllowAnonymous()
            .WithTags("Auth")
            .WithName(nameof(GetJwks))
            .WithSummary("Public signing keys (JWKS)")
            .ProducesErrors(StatusCodes.Status400BadRequest);
}
