using System.Text;
using Microsoft.IdentityModel.Tokens;

namespace ClinicFlow.Infrastructure;

/// <summary>The list answer of SPEC §1: <c>{ items, nextCursor }</c>.</summary>
public sealed record Page<T>(IReadOnlyList<T> Items, string? NextCursor);

/// <summary>
/// Keyset pagination: <c>?limit=</c> (default 50, max 200) and an opaque <c>?cursor=</c> that
/// carries the sort key of the last row returned. Slices fetch <c>limit + 1</c> rows and let
/// <see cref="ToPage{T}"/> decide whether there is a next page.
/// </summary>
public static class Paging
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 200;

    /// <summary>Checks limit and cursor; <paramref name="after"/> is the decoded key or null for the first page.</summary>
    public static bool TryRead(int? limit, string? cursor, out int take, out string? after, out ApiProblem? problem)
    {
        take = limit ?? DefaultLimit;
        after = null;
        problem = null;
        if (take is < 1 or > MaxLimit)
        {
            problem = ApiProblem.Validation("limit", new(
                $"limit must be between 1 and {MaxLimit}.", $"limit debe estar entre 1 y {MaxLimit}.", $"limit muss zwischen 1 und {MaxLimit} liegen."));
            return false;
        }

        if (string.IsNullOrEmpty(cursor))
        {
            return true;
        }

        try
        {
            after = Encoding.UTF8.GetString(Base64UrlEncoder.DecodeBytes(cursor));
            return true;
        }
        catch (FormatException)
        {
            problem = InvalidCursor();
            return false;
        }
    }

    /// <summary>Like <see cref="TryRead"/> for lists ordered by a uuid v7 id.</summary>
    public static bool TryReadGuid(int? limit, string? cursor, out int take, out Guid? after, out ApiProblem? problem)
    {
        after = null;
        if (!TryRead(limit, cursor, out take, out var key, out problem))
        {
            return false;
        }

        if (key is null)
        {
            return true;
        }

        if (Guid.TryParse(key, out var id))
        {
            after = id;
            return true;
        }

        problem = InvalidCursor();
        return false;
    }

    /// <summary>Like <see cref="TryRead"/> for lists ordered by a bigint sequence.</summary>
    public static bool TryReadLong(int? limit, string? cursor, out int take, out long? after, out ApiProblem? problem)
    {
        after = null;
        if (!TryRead(limit, cursor, out take, out var key, out problem))
        {
            return false;
        }

        if (key is null)
        {
            return true;
        }

        if (long.TryParse(key, System.Globalization.CultureInfo.InvariantCulture, out var value))
        {
            after = value;
            return true;
        }

        problem = InvalidCursor();
        return false;
    }

    /// <summary>Turns <paramref name="take"/> + 1 fetched rows into a page and the cursor after its last row.</summary>
    public static Page<T> ToPage<T>(IEnumerable<T> rows, int take, Func<T, object> keyOf)
    {
        ArgumentNullException.ThrowIfNull(keyOf);
        var list = rows.Take(take + 1).ToList();
        if (list.Count <= take)
        {
            return new Page<T>(list, null);
        }

        list.RemoveAt(take);
        var key = Convert.ToString(keyOf(list[^1]), System.Globalization.CultureInfo.InvariantCulture) ?? "";
        return new Page<T>(list, Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(key)));
    }

    private static ApiProblem InvalidCursor() =>
        ApiProblem.Validation("cursor", new("The cursor is not valid.", "El cursor no es válido.", "Der Cursor ist ungültig."));
}
