using System.Text;
using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Clinics;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Patients;

/// <summary>
/// GET /api/patients: the clinic's patients, keyset paged by id, optionally only blocked or
/// unblocked ones and searched by <c>q</c> over name, phone, email and document id. The search
/// folds accents and case the way the search_text column does, so the trigram index answers it.
/// </summary>
public sealed class ListPatients : ICarterModule
{
    // @Text is already LIKE-escaped, words joined by %; @Phones are LIKE patterns of the digits typed.
    private const string Sql = """
        select id, full_name, phone, email::text as email, birth_date, gender, document_id, notes, blocked,
               blocked_reason, lookup_hash, encrypted_data, created_at
        from patients
        where clinic_id = @ClinicId and erased_at is null
          and (@Text::text is null
               or search_text like '%' || lower(immutable_unaccent(@Text::text)) || '%'
               or search_text like any (@Phones::text[]))
          and (@Blocked::boolean is null or blocked = @Blocked::boolean)
          and (@After::uuid is null or id > @After::uuid)
        order by id
        limit @Take
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
        var text = words.Length == 0 ? null : string.Join('%', words.Select(EscapeLike));
        var phones = text is null ? [] : await PhonePatternsAsync(q!, tenant, ct);

        tenant.PlanPerCall();
        var rows = await tenant.QueryAsync<Response>(Sql, new
        {
            tenant.ClinicId,
            Text = text,
            Phones = phones,
            Blocked = blocked,
            After = after,
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
        var country = await tenant.QuerySingleAsync<string>(ClinicRules.CountrySql, new { tenant.ClinicId }, ct);
        if (ClinicRules.NormalizePhone(q, country) is { } e164)
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
