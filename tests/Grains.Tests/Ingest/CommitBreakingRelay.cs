using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace AnalyticsEngine.Grains.Tests.Ingest;

/// <summary>
/// A TCP relay between the silo and PostgreSQL that, when armed, loses the answer to the next batch sent after a COPY
/// (an ingest's commit: its confirmation, its idempotency key and COMMIT) and closes that connection. PostgreSQL has
/// committed by then, and the silo never hears so: the network failing at the worst moment. It reads the PostgreSQL
/// wire protocol just enough to find messages (a connection without TLS or GSS encryption).
/// </summary>
public sealed class CommitBreakingRelay : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _server;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private int _armed;

    public CommitBreakingRelay(string host, int port)
    {
        _server = new IPEndPoint(Dns.GetHostAddresses(host).First(a => a.AddressFamily == AddressFamily.InterNetwork), port);
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Completes when an answer was lost and its connection closed.</summary>
    public TaskCompletionSource Broke { get; private set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Loses the answer to the next commit after a COPY, on whichever connection sends it.</summary>
    public void BreakNextCommit()
    {
        Broke = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _armed, 1);
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            _ = RelayAsync(client);
        }
    }

    private async Task RelayAsync(TcpClient client)
    {
        using var _ = client;
        using var server = new TcpClient();
        await server.ConnectAsync(_server, _stop.Token);
        var connection = new Connection();
        var fromClient = PumpFromClientAsync(client.GetStream(), server.GetStream(), connection);
        var fromServer = PumpFromServerAsync(server.GetStream(), client.GetStream(), connection, client, server);
        await Task.WhenAny(fromClient, fromServer);
        client.Close();
        server.Close();
    }

    /// <summary>Forwards what the silo sends, watching for a COPY's end and the Sync that ends the batch after it.</summary>
    private async Task PumpFromClientAsync(NetworkStream from, NetworkStream to, Connection connection)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            int read;
            while ((read = await from.ReadAsync(buffer, _stop.Token)) > 0)
            {
                foreach (var type in connection.Messages.Read(buffer.AsSpan(0, read)))
                {
                    if (type == (byte)'c' && !connection.CopyDone && Interlocked.Exchange(ref _armed, 0) == 1)
                    {
                        connection.CopyDone = true; // CopyDone: this connection's next batch is the commit
                    }
                    else if (type == (byte)'S' && connection.CopyDone)
                    {
                        Volatile.Write(ref connection.Tripped, true); // the commit batch is complete: its answer is to be lost
                    }
                }

                await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException)
        {
            // a side closed
        }
    }

    private async Task PumpFromServerAsync(NetworkStream from, NetworkStream to, Connection connection, TcpClient client, TcpClient server)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            int read;
            while ((read = await from.ReadAsync(buffer, _stop.Token)) > 0)
            {
                if (Volatile.Read(ref connection.Tripped))
                {
                    // PostgreSQL has answered the commit (it ran it): the silo hears nothing but the connection closing.
                    client.Close();
                    server.Close();
                    Broke.TrySetResult();
                    return;
                }

                await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException)
        {
            // a side closed
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }

    private sealed class Connection
    {
        public readonly FrontendMessages Messages = new();
        public bool CopyDone;
        public bool Tripped;
    }

    /// <summary>
    /// Splits the silo's byte stream into messages: the untyped startup message, then a type byte and a length each.
    /// </summary>
    private sealed class FrontendMessages
    {
        private readonly byte[] _header = new byte[5];
        private int _headerFilled;
        private long _bodyLeft;
        private bool _started;

        /// <summary>The types of the messages whose header ends in <paramref name="data"/>.</summary>
        public List<byte> Read(ReadOnlySpan<byte> data)
        {
            var types = new List<byte>();
            while (data.Length > 0)
            {
                if (_bodyLeft > 0)
                {
                    var skip = (int)Math.Min(_bodyLeft, data.Length);
                    _bodyLeft -= skip;
                    data = data[skip..];
                    continue;
                }

                var headerLength = _started ? 5 : 4;
                var take = Math.Min(headerLength - _headerFilled, data.Length);
                data[..take].CopyTo(_header.AsSpan(_headerFilled));
                _headerFilled += take;
                data = data[take..];
                if (_headerFilled < headerLength)
                {
                    break;
                }

                // The length counts itself but not the type byte.
                var length = BinaryPrimitives.ReadInt32BigEndian(_header.AsSpan(_started ? 1 : 0, 4));
                _bodyLeft = length - 4;
                if (_started)
                {
                    types.Add(_header[0]);
                }

                _started = true;
                _headerFilled = 0;
            }

            return types;
        }
    }
}
