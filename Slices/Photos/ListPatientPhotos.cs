using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Photos;

/// <summary>GET /api/photos/patient/{patientId}: a patient's photos (metadata only), oldest first, keyset-paged.</summary>
public sealed class ListPatientPhotos : ICarterModule
{
    private const string PatientSql = """
        select id from patients where clinic_id = @ClinicId and id = @PatientId and erased_at is null
        """;

    private const string Sql = $"""
        select {PhotoRules.PhotoColumns}
        from photos ph
        where ph.clinic_id = @ClinicId and ph.patient_id = @PatientId and (@After::uuid is null or ph.id > @After)
        order by ph.id
        limit @Take
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/photos")
            .MapGet("/patient/{patientId:guid}", Handle)
            .RequireDoctorOrAdmin()
            .WithName(nameof(ListPatientPhotos))
            .WithSummary("A patient's photos (metadata)");

    private static async Task<Results<Ok<Page<Response>>, ApiProblem>> Handle(
        Guid patientId, int? limit, string? cursor, Tenant tenant, CancellationToken ct)
    {
        if (!Paging.TryReadGuid(limit, cursor, out var take, out var after, out var problem))
        {
            return problem!;
        }

        if (await tenant.QuerySingleOrDefaultAsync<Guid?>(PatientSql, new { tenant.ClinicId, PatientId = patientId }, ct) is null)
        {
            return ApiProblem.NotFound();
        }

        var photos = await tenant.QueryAsync<PhotoRules.PhotoRow>(Sql, new { tenant.ClinicId, PatientId = patientId, After = after, Take = take + 1 }, ct);
        return TypedResults.Ok(Paging.ToPage(photos.Select(p => Response.From(p, PhotoRules.DownloadUrl(tenant.Http, p.Id))), take, r => r.Id));
    }

    public sealed record Response(Guid Id, Guid PatientId, string MimeType, DateTimeOffset? TakenAt, string Category, string? BodyRegion,
        string ConsentStatus, Guid? ConsentFormId, long SizeBytes, string Sha256, string KeyEnvelope, string DownloadUrl, DateTimeOffset CreatedAt)
    {
        internal static Response From(PhotoRules.PhotoRow p, string downloadUrl) =>
            new(p.Id, p.PatientId, p.MimeType, p.TakenAt, p.Category, p.BodyRegion, p.ConsentStatus, p.ConsentFormId, p.SizeBytes, p.Sha256,
                p.KeyEnvelope, downloadUrl, p.CreatedAt);
    }
}
