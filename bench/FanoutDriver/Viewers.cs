using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;

namespace AnalyticsEngine.FanoutDriver;

/// <summary>The fields of a pushed value the driver needs; the rest of each value is skipped when it is read.</summary>
public sealed record PushedValue(string ClientId, string KpiCode, DateTimeOffset BucketStart, long Revision, DateTimeOffset? CommittedAt);

/// <summary>One watched series: a KPI of a client at a granularity.</summary>
public readonly record struct Series(string ClientId, string KpiCode, string Granularity);

/// <summary>
/// SignalR connections to the gateway's KPI hub, each watching one series, and what they receive: per value,
/// the receive time minus the value's <c>committedAt</c> (the commit of the batch that changed it; driver and
/// product run on one machine, so one clock).
/// </summary>
public sealed class Viewers : IAsyncDisposable
{
    private readonly FanoutOptions options;
    private readonly List<IAsyncDisposable> _connections = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _pinging;
    private readonly Lock _gate = new();
    private double[] _latencies = new double[1 << 16];
    private int _latencyCount;
    private long _received;
    private long _withoutCommitTime;
    private volatile bool _recording;

    public Viewers(FanoutOptions options)
    {
        this.options = options;
        _pinging = options.LeanClient ? PingAsync(_stopping.Token) : Task.CompletedTask;
    }

    public int Count
    {
        get { lock (_gate) { return _connections.Count; } }
    }

    /// <summary>Values received since the start, whether recorded or not.</summary>
    public long Received => Interlocked.Read(ref _received);

    /// <summary>Pushed values without a commit time (e.g. a bucket turning final).</summary>
    public long WithoutCommitTime => Interlocked.Read(ref _withoutCommitTime);

    /// <summary>Starts a window: latencies of values received from now on are kept.</summary>
    public void StartRecording()
    {
        lock (_gate)
        {
            _latencyCount = 0;
        }

        _recording = true;
    }

    /// <summary>Ends the window and answers the latencies received in it, sorted.</summary>
    public double[] StopRecording()
    {
        _recording = false;
        lock (_gate)
        {
            var samples = _latencies[.._latencyCount];
            Array.Sort(samples);
            return samples;
        }
    }

    /// <summary>Opens one connection per series listed (a few at a time), subscribing each; answers each subscribe's duration in ms.</summary>
    public async Task<double[]> ConnectAsync(IReadOnlyList<Series> series)
    {
        var durations = new double[series.Count];
        var next = -1;
        var workers = Enumerable.Range(0, Math.Min(options.ConnectConcurrency, series.Count)).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < series.Count)
            {
                durations[i] = await ConnectOneAsync(series[i]);
            }
        });
        await Task.WhenAll(workers);
        return durations;
    }

    private Task<double> ConnectOneAsync(Series series) => options.LeanClient ? ConnectLeanAsync(series) : ConnectSignalRAsync(series);

    private async Task<double> ConnectLeanAsync(Series series)
    {
        var connection = new LeanHubConnection(OnLeanValues);
        await connection.StartAsync(new Uri(options.Gateway, "hubs/kpi"), options.Token, CancellationToken.None);
        lock (_gate)
        {
            _connections.Add(connection);
        }

        var started = Stopwatch.GetTimestamp();
        await connection.InvokeAsync("Subscribe", [series.ClientId, series.KpiCode, series.Granularity], CancellationToken.None);
        return Stopwatch.GetElapsedTime(started).TotalMilliseconds;
    }

    /// <summary>Pings every lean connection each 10 s (the hub's default client timeout is 30 s; the SignalR client pings by itself).</summary>
    private async Task PingAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(10));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                LeanHubConnection[] connections;
                lock (_gate)
                {
                    connections = [.. _connections.OfType<LeanHubConnection>()];
                }

                foreach (var connection in connections)
                {
                    await connection.PingAsync(cancellationToken);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Disposed.
        }
    }

    private void OnLeanValues(DateTimeOffset received, int values, List<DateTimeOffset> committed)
    {
        Interlocked.Add(ref _received, values);
        Interlocked.Add(ref _withoutCommitTime, values - committed.Count);
        if (_recording)
        {
            foreach (var committedAt in committed)
            {
                Record((received - committedAt).TotalMilliseconds);
            }
        }
    }

    private async Task<double> ConnectSignalRAsync(Series series)
    {
        var connection = new HubConnectionBuilder()
            .WithUrl(new Uri(options.Gateway, "hubs/kpi"), HttpTransportType.WebSockets, o =>
            {
                // Straight to the WebSocket: one TCP connection per viewer, no negotiate round trip.
                o.SkipNegotiation = true;
                o.AccessTokenProvider = () => Task.FromResult(options.Token);
            })
            .AddJsonProtocol(o => o.PayloadSerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase)))
            .Build();
        // Under load a busy gateway answers pings late; the driver must not give up on it for that.
        connection.ServerTimeout = TimeSpan.FromMinutes(5);
        connection.HandshakeTimeout = TimeSpan.FromMinutes(2);
        connection.On<PushedValue[]>("kpiChanged", OnPushed);
        await connection.StartAsync();
        lock (_gate)
        {
            _connections.Add(connection);
        }

        var started = Stopwatch.GetTimestamp();
        await connection.InvokeAsync<JsonElement>("Subscribe", series.ClientId, series.KpiCode, series.Granularity);
        return Stopwatch.GetElapsedTime(started).TotalMilliseconds;
    }

    private void OnPushed(PushedValue[] values)
    {
        var now = DateTimeOffset.UtcNow;
        Interlocked.Add(ref _received, values.Length);
        foreach (var value in values)
        {
            if (value.CommittedAt is not { } committedAt)
            {
                Interlocked.Increment(ref _withoutCommitTime);
                continue;
            }

            if (_recording)
            {
                Record((now - committedAt).TotalMilliseconds);
            }
        }
    }

    private void Record(double milliseconds)
    {
        lock (_gate)
        {
            if (_latencyCount == _latencies.Length)
            {
                Array.Resize(ref _latencies, _latencies.Length * 2);
            }

            _latencies[_latencyCount++] = milliseconds;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await _pinging;
        List<IAsyncDisposable> connections;
        lock (_gate)
        {
            connections = [.. _connections];
            _connections.Clear();
        }

        // A few at a time, as they were opened, so closing does not flood the gateway either.
        foreach (var chunk in connections.Chunk(Math.Max(1, options.ConnectConcurrency)))
        {
            await Task.WhenAll(chunk.Select(c => c.DisposeAsync().AsTask()));
        }
    }
}
