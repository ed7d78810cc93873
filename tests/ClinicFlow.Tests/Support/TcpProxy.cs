using System.Net;
using System.Net.Sockets;

namespace ClinicFlow.Tests.Support;

/// <summary>
/// A loopback TCP forwarder between the app and PostgreSQL that a test can cut, so "the database
/// is unreachable" is real network behaviour rather than a mocked exception. It also counts what
/// the app sends (<see cref="Wire"/>): round trips and statements, read off the protocol itself.
/// </summary>
public sealed class TcpProxy : IAsyncDisposable
{
    /// <summary>The PostgreSQL frontend messages that passed through, over all connections.</summary>
    public WireCount Wire { get; } = new();

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _targetPort;
    private readonly List<TcpClient> _open = [];
    private readonly CancellationTokenSource _stop = new();
    private volatile bool _cut;
    private readonly Task _loop;

    public TcpProxy(int targetPort)
    {
        _targetPort = targetPort;
        _listener.Start();
        _loop = AcceptLoopAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Drops every open connection and refuses new ones until <see cref="Restore"/>.</summary>
    public void Cut()
    {
        _cut = true;
        lock (_open)
        {
            foreach (var client in _open)
            {
                client.Dispose();
            }

            _open.Clear();
        }
    }

    public void Restore() => _cut = false;

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient inbound;
            try
            {
                inbound = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }

            if (_cut)
            {
                inbound.Dispose();
                continue;
            }

            var outbound = new TcpClient();
            try
            {
                await outbound.ConnectAsync(IPAddress.Loopback, _targetPort);
            }
            catch (SocketException)
            {
                inbound.Dispose();
                outbound.Dispose();
                continue;
            }

            lock (_open)
            {
                _open.Add(inbound);
                _open.Add(outbound);
            }

            var parser = new FrontendParser(Wire);
            _ = PumpAsync(inbound, outbound, parser, toServer: true);
            _ = PumpAsync(outbound, inbound, parser, toServer: false);
        }
    }

    private static async Task PumpAsync(TcpClient from, TcpClient to, FrontendParser parser, bool toServer)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            var source = from.GetStream();
            var target = to.GetStream();
            int read;
            while ((read = await source.ReadAsync(buffer)) > 0)
            {
                if (toServer)
                {
                    parser.Feed(buffer.AsSpan(0, read));
                }
                else
                {
                    parser.Answered();
                }

                await target.WriteAsync(buffer.AsMemory(0, read));
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException or InvalidOperationException)
        {
            // one side went away
        }
        finally
        {
            from.Dispose();
            to.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        Cut();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }
}

/// <summary>Totals of the frontend messages a <see cref="TcpProxy"/> forwarded.</summary>
public sealed class WireCount
{
    private long _roundTrips;
    private long _executes;
    private long _simpleQueries;

    /// <summary>Times the app sent something and then waited for the server's answer.</summary>
    public long RoundTrips => Interlocked.Read(ref _roundTrips);

    /// <summary>Statements of the extended protocol (Execute messages).</summary>
    public long Executes => Interlocked.Read(ref _executes);

    /// <summary>Simple queries: BEGIN, COMMIT and the pool's DISCARD ALL, as Npgsql sends them.</summary>
    public long SimpleQueries => Interlocked.Read(ref _simpleQueries);

    public (long RoundTrips, long Executes, long SimpleQueries) Snapshot() => (RoundTrips, Executes, SimpleQueries);

    internal void RoundTrip() => Interlocked.Increment(ref _roundTrips);

    internal void Count(byte type)
    {
        switch (type)
        {
            case (byte)'E':
                Interlocked.Increment(ref _executes);
                break;
            case (byte)'Q':
                Interlocked.Increment(ref _simpleQueries);
                break;
        }
    }
}

/// <summary>
/// Splits one connection's client-to-server stream into protocol messages: first the untyped
/// start-up messages (SSL or GSS encryption requests, then the startup packet), then typed ones
/// (a type byte and a length). Connections must not switch to TLS (the test disables it).
/// </summary>
internal sealed class FrontendParser(WireCount count)
{
    private const int SslRequest = 80877103;
    private const int GssEncRequest = 80877104;
    private readonly byte[] _header = new byte[8];
    private int _headerFill;
    private long _skip;
    private bool _typed;
    private int _spoke;

    /// <summary>The server sent something: if the client had spoken since, that was one round trip.</summary>
    public void Answered()
    {
        if (Interlocked.Exchange(ref _spoke, 0) == 1)
        {
            count.RoundTrip();
        }
    }

    public void Feed(ReadOnlySpan<byte> data)
    {
        Volatile.Write(ref _spoke, 1);
        while (data.Length > 0)
        {
            if (_skip > 0)
            {
                var n = (int)Math.Min(_skip, data.Length);
                _skip -= n;
                data = data[n..];
                continue;
            }

            // Typed: type (1) + length (4, counting itself). Untyped: length (4) + code (4).
            var headerLength = _typed ? 5 : 8;
            var take = Math.Min(headerLength - _headerFill, data.Length);
            data[..take].CopyTo(_header.AsSpan(_headerFill));
            _headerFill += take;
            data = data[take..];
            if (_headerFill < headerLength)
            {
                return;
            }

            _headerFill = 0;
            if (_typed)
            {
                count.Count(_header[0]);
                _skip = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(_header.AsSpan(1)) - 4;
            }
            else
            {
                var length = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(_header);
                var code = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(_header.AsSpan(4));
                _skip = length - 8;
                _typed = code is not (SslRequest or GssEncRequest);
            }
        }
    }
}
