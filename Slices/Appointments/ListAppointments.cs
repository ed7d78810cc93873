using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace ClinicFlow.Slices.Appointments;

/// <summary>
/// GET /api/appointments: the clinic's appointments by start time, filtered by a window of start
/// times, doctor, patient and status, keyset paged on (startsAt, id). Staff phones poll their day:
/// each page carries an ETag (304 on If-None-Match), and a page is written once per version of what
/// it shows and served from memory while that version stands.
/// </summary>
public sealed class ListAppointments : ICarterModule
{
    // Bump when the rendering changes, so pages kept in the old rendering are not served.
    private const string RenderVersion = "appointments-v1";

    // What every page is made of besides the request's filters: each of the clinic's doctors with
    // their calendar version, which the database raises with every insert, change or deletion of one
    // of their appointments and with the name or erasure of a patient they see (migration
    // CalendarVersions), and their name (hashed, so the list's separators cannot occur in it).
    private const string Version = """
        select md5(coalesce(string_agg(concat_ws(':', d.id, d.calendar_version, md5(d.full_name)), '|' order by d.id), ''))
        from doctors d
        where d.clinic_id = @ClinicId
        """;

    // One statement per index that can lead the walk, each free of "@X is null or" on the index's own
    // columns, so the prepared statement's generic plan is the right one and no call is planned anew:
    // ix_appointments_doctor, ix_appointments_patient or ix_appointments_clinic_day in (starts_at, id)
    // order, from the window's start or the cursor, stopping after @Take rows; the view joins the
    // names by key for those rows only. An absent bound is the widest instant; an absent status is
    // every status.
    private const string Columns = """
        select a.id, a.doctor_id, a.patient_id, a.starts_at, a.ends_at, a.status, a.reason, a.notes, a.outside_schedule,
               a.created_at, a.updated_at, a.doctor_name, a.patient_name
        from appointment_details a
        """;

    private const string Window = """
          and a.starts_at >= @From and a.starts_at < @To
          and (a.starts_at, a.id) > (@AfterStart, @AfterId)
          and a.status = any(@Statuses)
        order by a.starts_at, a.id
        limit @Take
        """;

    private const string ClinicSql = Columns + """

        where a.clinic_id = @ClinicId

        """ + Window;

    private const string DoctorSql = Columns + """

        where a.clinic_id = @ClinicId and a.doctor_id = @DoctorId
          and (@PatientId::uuid is null or a.patient_id = @PatientId::uuid)

        """ + Window;

    private const string PatientSql = Columns + """

        where a.clinic_id = @ClinicId and a.patient_id = @PatientId

        """ + Window;

    // Without a kept page the rows follow the version in the same round trip.
    private const string ClinicBatch = Version + ";\n" + ClinicSql;

    private const string DoctorBatch = Version + ";\n" + DoctorSql;

    private const string PatientBatch = Version + ";\n" + PatientSql;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/appointments")
            .MapGet("/", Handle)
            .WithName(nameof(ListAppointments))
            .WithSummary("List the clinic's appointments (from, to, doctorId, patientId, status)")
            .Produces<Page<Response>>(StatusCodes.Status200OK)
            .Produces(StatusCodes.Status304NotModified);

    private static async Task<Results<EmptyHttpResult, StatusCodeHttpResult, ApiProblem>> Handle(
        DateTimeOffset? from, DateTimeOffset? to, Guid? doctorId, Guid? patientId, string? status, int? limit, string? cursor,
        Tenant tenant, CancellationToken ct)
    {
        if (!Paging.TryRead(limit, cursor, out var take, out var key, out var problem))
        {
            return problem!;
        }

        (DateTimeOffset Start, Guid Id)? after = null;
        if (key is not null)
        {
            if (ReadCursor(key) is not { } position)
            {
                return ApiProblem.Validation("cursor", new("The cursor is not valid.", "El cursor no es válido.", "Der Cursor ist ungültig."));
            }

            after = position;
        }

        if (from is not null && to is not null && to <= from)
        {
            return ApiProblem.Validation("to", new("to must be after from.", "to debe ser posterior a from.", "to muss nach from liegen."));
        }

        string[]? statuses = null;
        if (!string.IsNullOrWhiteSpace(status))
        {
            statuses = status.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().ToArray();
            if (statuses.Length == 0 || statuses.Any(s => !AppointmentRules.Statuses.Contains(s)))
            {
                var known = string.Join(", ", AppointmentRules.Statuses);
                return ApiProblem.Validation("status", new(
                    $"status must be one of {known}, or several separated by commas.",
                    $"status debe ser uno de {known}, o varios separados por comas.",
                    $"status muss einer von {known} sein, oder mehrere durch Kommas getrennt."));
            }
        }

        var statusList = statuses ?? AppointmentRules.Statuses.ToArray();
        // Npgsql writes timestamptz only from UTC offsets.
        var (start, end) = ((from ?? DateTimeOffset.MinValue).ToUniversalTime(), (to ?? DateTimeOffset.MaxValue).ToUniversalTime());
        var (afterStart, afterId) = (after?.Start ?? DateTimeOffset.MinValue, after?.Id ?? Guid.Empty);

        // The page kept for exactly these parameters, if any, with the version it was written for.
        var pageKey = "appointments:" + string.Join('|', tenant.ClinicId, doctorId, patientId, string.Join(',', statusList),
            start.UtcTicks, end.UtcTicks, afterStart.UtcTicks, afterId, take);
        var page = Rendered.Get<KeptPage>(pageKey);
        var args = new
        {
            tenant.ClinicId,
            DoctorId = doctorId,
            PatientId = patientId,
            Statuses = statusList,
            From = start,
            To = end,
            AfterStart = afterStart,
            AfterId = afterId,
            Take = take + 1,
        };

        // A kept page costs a read of the version, and of the rows only if it changed since (a second
        // round trip); without one, the rows come with the version.
        string version;
        IEnumerable<Row>? rows = null;
        if (page is not null)
        {
            version = await tenant.QuerySingleAsync<string>(Version, new { tenant.ClinicId }, ct);
        }
        else
        {
            var batch = doctorId is not null ? DoctorBatch : patientId is not null ? PatientBatch : ClinicBatch;
            await using var results = await tenant.QueryMultipleAsync(batch, args, ct);
            version = await results.ReadSingleAsync<string>();
            rows = await results.ReadAsync<Row>();
        }

        var http = tenant.Http;
        http.Response.Headers.CacheControl = "private, no-cache";
        if (page is not null && page.Version == version)
        {
            return Rendered.NotModified(http, page.ETag)
                ? TypedResults.StatusCode(StatusCodes.Status304NotModified)
                : await WriteAsync(http, page.Body, ct);
        }

        var etag = Tag(pageKey, version);
        if (Rendered.NotModified(http, etag))
        {
            return TypedResults.StatusCode(StatusCodes.Status304NotModified);
        }

        // The rows come from a snapshot no older than the version's: a change committed in between
        // gives a page newer than its version, and no later request sees that version again, because
        // versions only rise. So a kept page is never older than what its version names.
        rows ??= await tenant.QueryAsync<Row>(doctorId is not null ? DoctorSql : patientId is not null ? PatientSql : ClinicSql, args, ct);
        var answer = Paging.ToPage(rows.Select(r => r.ToResponse()), take,
            r => string.Create(CultureInfo.InvariantCulture, $"{r.StartsAt.UtcTicks}_{r.Id}"));
        if (!Rendered.AskedBefore(pageKey))
        {
            // Asked for once so far: written straight to the response, not kept.
            await http.Response.WriteAsJsonAsync(answer, ct);
            return TypedResults.Empty;
        }

        var body = JsonSerializer.SerializeToUtf8Bytes(answer,
            http.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions);
        Rendered.Keep(pageKey, new KeptPage(version, etag, body), body.Length);
        return await WriteAsync(http, body, ct);
    }

    private static async Task<EmptyHttpResult> WriteAsync(HttpContext http, byte[] body, CancellationToken ct)
    {
        await Rendered.WriteAsync(http, body, "application/json; charset=utf-8", ct);
        return TypedResults.Empty;
    }

    /// <summary>A page as written for one version of the clinic's doctors.</summary>
    private sealed record KeptPage(string Version, string ETag, byte[] Body);

    // The tag names the page's parameters (its key, the clinic's id among them) and the version.
    private static string Tag(string key, string version) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(RenderVersion + "|" + key + "|" + version)).AsSpan(0, 16));

    /// <summary>The cursor carries both sort keys of the last row: its start in UTC ticks and its id.</summary>
    private static (DateTimeOffset, Guid)? ReadCursor(string key)
    {
        var parts = key.Split('_');
        return parts.Length == 2
            && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks)
            && ticks <= DateTimeOffset.MaxValue.UtcTicks
            && Guid.TryParse(parts[1], out var id)
            ? (new DateTimeOffset(ticks, TimeSpan.Zero), id)
            : null;
    }

    internal sealed record Row(Guid Id, Guid DoctorId, Guid PatientId, DateTimeOffset StartsAt, DateTimeOffset EndsAt, string Status,
        string? Reason, string? Notes, bool OutsideSchedule, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, string DoctorName,
        string PatientName)
    {
        public Response ToResponse() => new(Id, DoctorId, PatientId, StartsAt, EndsAt, Status, Reason, Notes, OutsideSchedule,
            CreatedAt, UpdatedAt, new Summary(DoctorId, DoctorName), new Summary(PatientId, PatientName));
    }

    public sealed record Summary(Guid Id, string FullName);

    public sealed record Response(Guid Id, Guid DoctorId, Guid PatientId, DateTimeOffset StartsAt, DateTimeOffset EndsAt, string Status,
        string? Reason, string? Notes, bool OutsideSchedule, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, Summary Doctor,
        Summary Patient);
}
