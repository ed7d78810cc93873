using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Settings;

/// <summary>
/// GET /api/public/clinics/{clinicId}/logo: public; the logo bytes for the consent pages, with an
/// ETag (304 on If-None-Match), Cache-Control and nosniff, so a browser never reads it as anything
/// but the image type its magic bytes named.
/// </summary>
public sealed class GetPublicLogo : ICarterModule
{
    private sealed record Logo(string ContentType, byte[] Content, string Etag);

    // The system connection: the route's clinic id is the tenant, and the statement is bound to it.
    private const string Sql = """
        select l.content_type, l.content, l.etag
        from practice_logos l
        join clinics c on c.id = l.clinic_id
        where l.clinic_id = @ClinicId and c.active
        """;

    private const string EtagSql = """
        select l.etag
        from practice_logos l
        join clinics c on c.id = l.clinic_id
        where l.clinic_id = @ClinicId and c.active
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapSystemGroup("/public", RateLimits.PublicLinks)
            .MapGet("/clinics/{clinicId:guid}/logo", Handle)
            .WithName(nameof(GetPublicLogo))
            .WithSummary("The practice logo (public, cacheable)")
            .Produces<Stream>(StatusCodes.Status200OK, "image/png", "image/jpeg", "image/webp")
            .Produces(StatusCodes.Status304NotModified)
            .ProducesErrors(StatusCodes.Status404NotFound);

    private static async Task<Results<FileContentHttpResult, StatusCodeHttpResult, ApiProblem>> Handle(
        Guid clinicId, SystemScope db, CancellationToken ct)
    {
        var http = db.Http;
        var conditional = http.Request.GetTypedHeaders().IfNoneMatch is { Count: > 0 } candidates ? candidates : null;
        if (conditional is not null)
        {
            // A revalidation reads the version only, not the bytes.
            var current = await db.QuerySingleOrDefaultAsync<string>(EtagSql, new { ClinicId = clinicId }, ct);
            if (current is not null && Rendered.Matches(conditional, current))
            {
                SetHeaders(http, current);
                return TypedResults.StatusCode(StatusCodes.Status304NotModified);
            }
        }

        var logo = await db.QuerySingleOrDefaultAsync<Logo>(Sql, new { ClinicId = clinicId }, ct);
        if (logo is null)
        {
            return ApiProblem.NotFound();
        }

        SetHeaders(http, logo.Etag);
        return TypedResults.File(logo.Content, logo.ContentType);
    }

    private static void SetHeaders(HttpContext http, string etag)
    {
        http.Response.Headers.ETag = $"\"{etag}\"";
        http.Response.Headers.CacheControl = "public, max-age=3600";
        http.Response.Headers.XContentTypeOptions = "nosniff";
    }
}
