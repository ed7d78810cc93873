using System.Data.Common;
using Dapper;

namespace ClinicFlow.Infrastructure;

/// <summary>
/// The result sets of one batch, read in order, each row mapped as Dapper's <c>Query&lt;T&gt;</c> maps it.
/// Every wait on the server is asynchronous, letting it go included: what the caller left unread is
/// read then, without holding a thread. (Dapper's own grid reader, let go with results unread, read
/// them on a blocked thread; under load a day list that did so fell to 47 requests a second.) Always
/// <c>await using</c>; there is no synchronous disposal.
/// </summary>
public sealed class Grid : IAsyncDisposable
{
    private readonly DbDataReader _reader;
    private readonly CancellationToken _ct;
    private bool _current;
    private bool _failed;

    /// <param name="reader">Positioned on the batch's first result set to read.</param>
    /// <param name="hasResult">Whether there is one.</param>
    internal Grid(DbDataReader reader, bool hasResult, CancellationToken ct)
    {
        _reader = reader;
        _current = hasResult;
        _ct = ct;
    }

    /// <summary>True once every result set has been read.</summary>
    public bool IsConsumed => !_current;

    /// <summary>The rows of the next result set.</summary>
    public async Task<List<T>> ReadAsync<T>()
    {
        if (!_current)
        {
            throw new InvalidOperationException("The batch has no more result sets.");
        }

        try
        {
            var rows = new List<T>();
            if (_reader.FieldCount > 0)
            {
                var parse = RowParser<T>(_reader);
                while (await _reader.ReadAsync(_ct))
                {
                    rows.Add(parse(_reader));
                }
            }

            _current = await _reader.NextResultAsync(_ct);
            return rows;
        }
        catch
        {
            _current = false;
            _failed = true;
            throw;
        }
    }

    /// <summary>The one row of the next result set; none or several throw.</summary>
    public async Task<T> ReadSingleAsync<T>() => (await ReadAsync<T>()) switch
    {
        [var row] => row,
        [] => throw new InvalidOperationException("Sequence contains no elements"),
        _ => throw new InvalidOperationException("Sequence contains more than one element"),
    };

    /// <summary>The row of the next result set, or the default when it has none; several throw.</summary>
    public async Task<T?> ReadSingleOrDefaultAsync<T>() => (await ReadAsync<T>()) switch
    {
        [var row] => row,
        [] => default,
        _ => throw new InvalidOperationException("Sequence contains more than one element"),
    };

    /// <summary>
    /// Reads what is left, then lets the reader go. A failure in an unread statement surfaces here,
    /// never swallowed (the transaction it aborted must not look committed), unless a read already
    /// failed: then that failure is the one the caller sees.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (_failed)
        {
            // A read failed, and that failure is on its way to the caller: what the rest of the batch
            // raises while the reader closes would only take its place.
            try
            {
                await _reader.DisposeAsync();
            }
            catch (DbException)
            {
            }

            return;
        }

        try
        {
            while (_current)
            {
                _current = await _reader.NextResultAsync(CancellationToken.None);
            }
        }
        finally
        {
            await _reader.DisposeAsync();
        }
    }

    /// <summary>Over a reader just opened on a batch: positioned on its first result set.</summary>
    internal static Grid Over(DbDataReader reader, CancellationToken ct) => new(reader, reader.FieldCount > 0, ct);

    // Dapper's own mapping, as its Query<T> applies it. Asked for as object: its typed overload
    // cannot hand out the parser of a reference type (strings, records) under its own type.
    internal static Func<DbDataReader, T> RowParser<T>(DbDataReader reader)
    {
        var parse = reader.GetRowParser<object>(typeof(T));
        return r => (T)parse(r);
    }
}

/// <summary>Grids over a connection outside a request's scope (workers).</summary>
public static class GridExtensions
{
    public static async Task<Grid> QueryGridAsync(this DbConnection connection, CommandDefinition command) =>
        Grid.Over(await connection.ExecuteReaderAsync(command), command.CancellationToken);
}
