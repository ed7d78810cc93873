using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Photos;

/// <summary>GET /api/photos/{id}: a photo's metadata, with the key envelope and the download link.</summary>
public sealed class GetPhoto : ICarterModule
{
    private const string Sql = $"""
        select {PhotoRules.PhotoColumns}
        from photos ph
        join patients p on p.clinic_id = ph.clinic_id and p.id = ph.patient_id and p.erased_at is null
        where ph.clinic_id = @ClinicId and ph.id = @Id
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/photos")
            .MapGet("/{id:guid}", Handle)
            .RequireDoctorOrAdmin()
            .WithName(nameof(GetPhoto))
            .WithSummary("A photo's metadata (with its key envelope and download link)");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(Guid id, Tenant tenant, CancellationToken ct)
    {
        var photo = await tenant.QuerySingleOrDefaultAsync<PhotoRules.PhotoRow>(Sql, new { tenant.ClinicId, Id = id }, ct);
        return photo is null ? ApiProblem.NotFound() : TypedResults.Ok(Response.From(photo, PhotoRules.DownloadUrl(tenant.Http, id)));
    }

    public sealed record Response(Guid Id, Guid PatientId, string MimeType, DateTimeOffset? TakenAt, string Category, string? BodyRegion,
        string ConsentStatus, Guid? ConsentFormId, long SizeBytes, string Sha256, string KeyEnvelope, string DownloadUrl, DateTimeOffset CreatedAt)
    {
        internal static Response From(PhotoRules.PhotoRow p, string downloadUrl) =>
            new(p.Id, p.PatientId, p.MimeType, p.TakenAt, p.Category, p.BodyRegion, p.ConsentStatus, p.ConsentFormId, p.SizeBytes, p.Sha256,
                p.KeyEnvelope, downloadUrl, p.CreatedAt);
    }
}
