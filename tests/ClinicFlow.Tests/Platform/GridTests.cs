using ClinicFlow.Infrastructure;
using ClinicFlow.Tests.Support;
using Dapper;
using Npgsql;

namespace ClinicFlow.Tests.Platform;

/// <summary>
/// A batch's results left unread are read when the grid is let go, asynchronously and to their end:
/// the transaction goes on, and a failure in a statement nobody read still fails the work, unless a
/// read failed first, whose failure is then the one the caller sees.
/// </summary>
public sealed class GridTests(AppFixture app) : ApiTest(app)
{
    [Fact]
    public async Task Results_left_unread_are_drained_and_the_transaction_goes_on()
    {
        await using var connection = new NpgsqlConnection(App.AdminConnectionString);
        await connection.OpenAsync(Ct);
        await using var transaction = await connection.BeginTransactionAsync(Ct);
        var marker = "grid-" + Guid.NewGuid().ToString("N");

        // The second result (64 MB) is more than the socket's buffers hold, so the server cannot get to
        // the third statement before the grid reads it: letting the grid go reads it and waits for the
        // server without holding the thread.
        var grid = await connection.QueryGridAsync(new CommandDefinition(
            """
            select 1;
            select repeat('x', 1024) from generate_series(1, 65536);
            select pg_sleep(0.5);
            select set_config('app.grid_marker', @Marker, true)
            """, new { Marker = marker }, transaction, cancellationToken: Ct));
        Assert.Equal(1, (await grid.ReadAsync<int>()).Single());
        Assert.False(grid.IsConsumed);
        var letGo = grid.DisposeAsync().AsTask();
        Assert.False(letGo.IsCompleted);
        await letGo;

        // Every statement ran to its end (the last one's setting is there), and the transaction still
        // takes statements and commits.
        Assert.Equal(marker, await connection.ExecuteScalarAsync<string>(
            new CommandDefinition("select current_setting('app.grid_marker', true)", transaction: transaction, cancellationToken: Ct)));
        await transaction.CommitAsync(Ct);
    }

    [Fact]
    public async Task A_failure_in_a_statement_nobody_read_surfaces_when_the_grid_goes()
    {
        await using var connection = new NpgsqlConnection(App.AdminConnectionString);
        await connection.OpenAsync(Ct);
        await using var transaction = await connection.BeginTransactionAsync(Ct);

        var grid = await connection.QueryGridAsync(new CommandDefinition("select 1; select 2; select 1 / 0", transaction: transaction, cancellationToken: Ct));
        Assert.Equal(1, (await grid.ReadAsync<int>()).Single());
        var failure = await Assert.ThrowsAsync<PostgresException>(async () => await grid.DisposeAsync());
        Assert.Equal(PostgresErrorCodes.DivisionByZero, failure.SqlState);
    }

    [Fact]
    public async Task A_read_that_fails_is_the_failure_the_caller_sees()
    {
        await using var connection = new NpgsqlConnection(App.AdminConnectionString);
        await connection.OpenAsync(Ct);
        await using var transaction = await connection.BeginTransactionAsync(Ct);

        // Text where a number is asked for, then a statement that fails: the caller sees the first.
        var failure = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var grid = await connection.QueryGridAsync(new CommandDefinition("select 'x'; select 1 / 0",
                transaction: transaction, cancellationToken: Ct));
            await grid.ReadAsync<int>();
        });
        Assert.IsType<InvalidCastException>(failure);
    }
}
