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
/// each page carries an ETag (304 on If-None-Match), and an unchanged page is written once and then
/// served from memory after one version read.
/// </summary>
public sealed class ListAppointments : ICarterModule
{
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

    // Bump when the rendering changes, so pages kept in the old rendering are not served.
    private const string RenderVersion = "appointments-v1";

    // What every page is made of besides the request's filters: each of the clinic's doctors with
    // their calendar version, which the database raises with every insert, change or deletion of one
    // of their appointments and with the name or erasure of a patient they see (migration
    // CalendarVersions), and their name. Read before the rows: a change committed in between yields
    // a page newer than its tag, and no later request reads that tag again, because versions only rise.
    private const string VersionSql = """
        select md5(coalesce(string_agg(concat_ws(':', d.id, d.calendar_version, md5(d.full_name)), '|' order by d.id), ''))
        from doctors d
        where d.clinic_id = @ClinicId
        """;

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

        var args = new
        {
            tenant.ClinicId,
            DoctorId = doctorId,
            PatientId = patientId,
            Statuses = statuses ?? AppointmentRules.Statuses.ToArray(),
            // Npgsql writes timestamptz only from UTC offsets.
            From = (from ?? DateTimeOffset.MinValue).ToUniversalTime(),
            To = (to ?? DateTimeOffset.MaxValue).ToUniversalTime(),
            AfterStart = after?.Start ?? DateTimeOffset.MinValue,
            AfterId = after?.Id ?? Guid.Empty,
            Take = take + 1,
        };

        var version = await tenant.QuerySingleAsync<string>(VersionSql, new { tenant.ClinicId }, ct);
        var http = tenant.Http;
        // The tag names the clinic's version and every parameter of the page.
        var etag = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('|', RenderVersion, args.ClinicId,
            version, args.DoctorId, args.PatientId, string.Join(',', args.Statuses), args.From.UtcTicks, args.To.UtcTicks,
            args.AfterStart.UtcTicks, args.AfterId, take))).AsSpan(0, 16));
        http.Response.Headers.CacheControl = "private, no-cache";
        if (Rendered.NotModified(http, etag))
        {
            return TypedResults.StatusCode(StatusCodes.Status304NotModified);
        }

        var kept = "appointments:" + etag;
        if (Rendered.Get(kept) is not { } body)
        {
            var sql = doctorId is not null ? DoctorSql : patientId is not null ? PatientSql : ClinicSql;
            var rows = await tenant.QueryAsync<Row>(sql, args, ct);
            var page = Paging.ToPage(rows.Select(r => r.ToResponse()), take,
                r => string.Create(CultureInfo.InvariantCulture, $"{r.StartsAt.UtcTicks}_{r.Id}"));
            body = JsonSerializer.SerializeToUtf8Bytes(page,
                http.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions);
            Rendered.Keep(kept, body);
        }

        await Rendered.WriteAsync(http, body, "application/json; charset=utf-8", ct);
        return TypedResults.Empty;
    }

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
