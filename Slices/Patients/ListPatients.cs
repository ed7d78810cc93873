using System.Text;
using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Clinics;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Patients;

/// <summary>
/// GET /api/patients: the clinic's patients, keyset paged by id, optionally only blocked or
/// unblocked ones and searched by <c>q</c> over name, phone, email and document id: every word
/// must occur, in any order, accents and case folded the way the search_text column folds them.
/// </summary>
public sealed class ListPatients : ICarterModule
{
    // Row-level security lets only leakproof operators become index conditions, and LIKE is not one,
    // so no index can answer the words: the search walks the clinic's live patients in id order on
    // ix_patients_clinic_search, whose included columns hold everything the filters read (an
    // index-only scan, no heap page per patient), and stops at @Take hits; only the hits' rows are
    // then read by key. Each word of @Words is a LIKE-escaped pattern folded like search_text, and
    // every one must occur, in any order; @Phones are LIKE patterns of the digits typed.
    private const string Sql = """
        with hits as materialized (
            select id
            from patients
            where clinic_id = @ClinicId and erased_at is null and id > @After
              and (@Words::text[] is null
                   or search_text like all (array(select '%' || lower(immutable_unaccent(w)) || '%' from unnest(@Words::text[]) w))
                   or search_text like any (@Phones::text[]))
              and (@Blocked::boolean is null or blocked = @Blocked::boolean)
            order by id
            limit @Take
        )
        select p.id, p.full_name, p.phone, p.email::text as email, p.birth_date, p.gender, p.document_id, p.notes, p.blocked,
               p.blocked_reason, p.lookup_hash, p.encrypted_data, p.created_at
        from hits h
        join patients p on p.clinic_id = @ClinicId and p.id = h.id
        order by p.id
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/patients")
            .MapGet("/", Handle)
            .WithName(nameof(ListPatients))
            .WithSummary("List and search the clinic's patients (q, blocked)");

    private static async Task<Results<Ok<Page<Response>>, ApiProblem>> Handle(
        string? q, bool? blocked, int? limit, string? cursor, Tenant tenant, CancellationToken ct)
    {
        if (!Paging.TryReadGuid(limit, cursor, out var take, out var after, out var problem))
        {
            return problem!;
        }

        if (q is { Length: > 200 })
        {
            return ApiProblem.Validation("q", new(
                "The search is too long (200 characters at most).",
                "La búsqueda es demasiado larga (200 caracteres como máximo).",
                "Die Suche ist zu lang (höchstens 200 Zeichen)."));
        }

        var words = (q ?? "").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        var phones = words.Length == 0 ? [] : await PhonePatternsAsync(q!, tenant, ct);

        // One statement whatever is set, so the prepared statement's generic plan serves every call.
        var rows = await tenant.QueryAsync<Response>(Sql, new
        {
            tenant.ClinicId,
            Words = words.Length == 0 ? null : words.Select(EscapeLike).ToArray(),
            Phones = phones,
            Blocked = blocked,
            After = after ?? Guid.Empty,
            Take = take + 1,
        }, ct);
        return TypedResults.Ok(Paging.ToPage(rows, take, r => r.Id));
    }

    /// <summary>
    /// A search that looks like a phone number also matches the stored E.164 form: the digits as
    /// typed ("2233-4455" finds +541122334455) and the number read with the clinic's country
    /// ("011 2233-4455" finds it too).
    /// </summary>
    private static async Task<string[]> PhonePatternsAsync(string q, Tenant tenant, CancellationToken ct)
    {
        var digits = new string(q.Where(char.IsAsciiDigit).ToArray());
        if (digits.Length < 3 || !q.All(c => char.IsAsciiDigit(c) || c is ' ' or '+' or '-' or '.' or '(' or ')' or '/'))
        {
            return [];
        }

        var patterns = new List<string> { "%" + digits + "%" };
        if (ClinicRules.NormalizePhone(q, await tenant.CountryAsync(ct) ?? "ZZ") is { } e164)
        {
            patterns.Add("%" + e164 + "%");
        }

        return [.. patterns];
    }

    private static string EscapeLike(string word)
    {
        var escaped = new StringBuilder(word.Length);
        foreach (var c in word)
        {
            if (c is '\\' or '%' or '_')
            {
                escaped.Append('\\');
            }

            escaped.Append(c);
        }

        return escaped.ToString();
    }

    public sealed record Response(Guid Id, string FullName, string? Phone, string? Email, DateOnly? BirthDate, string? Gender,
        string? DocumentId, string? Notes, bool Blocked, string? BlockedReason, string? LookupHash, string? EncryptedData,
        DateTimeOffset CreatedAt);
}
