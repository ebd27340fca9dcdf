using System.Diagnostics.Metrics;
using System.Net.Http.Json;
using AnalyticsEngine.Kpi;
using AnalyticsEngine.ServiceDefaults;
using Microsoft.AspNetCore.SignalR.Client;

namespace AnalyticsEngine.Integration.Tests;

/// <summary>
/// After a push, the gateway's instruments — the ones /metrics exports — report commit-to-push latency, viewers per
/// series, the open WebSocket connection and the ingest request by route, with values that fit what just happened.
/// </summary>
/// <remarks>
/// Read in-process with a <see cref="MeterListener"/>: in a test process that also starts and disposes other gateways
/// (the rate-limit tests), the shared gateway's Prometheus endpoint was seen to stop listing its instruments; a
/// product process runs a single gateway.
/// </remarks>
[Collection(AnalyticsCollection.Name)]
public sealed class GatewayMetricsTests(AnalyticsFixture fixture)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_push_is_measured_from_its_commit_and_counted_with_its_viewer_connection_and_request()
    {
        var clientId = TestClients.NewId("metrics");
        await TestClients.CreateAsync(fixture.Http, clientId);
        var minute = TestOrder.MinuteStart(minutesAgo: 2);
        var orders = TestOrder.Random(8, minute, seed: 7);

        using var recorded = new Recorded();
        await using var hub = await fixture.ConnectHubAsync();
        var arrived = new TaskCompletionSource<KpiValue>(TaskCreationOptions.RunContinuationsAsynchronously);
        hub.On<KpiValue[]>("kpiChanged", values =>
        {
            foreach (var value in values.Where(v => v.BucketStart == minute && v.EventCount == orders.Count))
            {
                arrived.TrySetResult(value);
            }
        });
        await hub.InvokeAsync<KpiSnapshot>("Subscribe", clientId, "OTD", "minute");

        var posted = DateTimeOffset.UtcNow;
        (await fixture.Http.PostAsJsonAsync($"/ingest/orders?clientId={clientId}", orders)).EnsureSuccessStatusCode();
        var pushed = await arrived.Task.WaitAsync(Patience);

        // The pushed value carries the commit of the batch that changed it, which happened during the post.
        Assert.NotNull(pushed.CommittedAt);
        Assert.InRange(pushed.CommittedAt.Value, posted, DateTimeOffset.UtcNow);

        // Recorded once the transport took the message (which may be a moment after the client had it), and a request
        // is counted when it has ended: wait for both.
        await Eventually.HoldsAsync(() => recorded.CommitToPush.Count > 0 && recorded.IngestRequests > 0, Patience,
            () => $"{recorded.CommitToPush.Count} commit-to-push values, {recorded.IngestRequests} ingest requests recorded");
        var elapsed = (DateTimeOffset.UtcNow - posted).TotalMilliseconds;
        Assert.All(recorded.CommitToPush, ms => Assert.InRange(ms, 0, elapsed));

        // This connection is the only viewer of its series, and the only series' viewer count that may be 1 here is at least its own.
        var gauges = recorded.Observe();
        Assert.True(gauges.GetValueOrDefault("ae.gateway.series_by_viewers/1") >= 1, "no series with one viewer");
        Assert.True(gauges.GetValueOrDefault("ae.gateway.max_viewers_per_series") >= 1, "the most viewed series has no viewer");
        Assert.True(recorded.WebSocketConnections >= 1, "the open WebSocket connection is not counted");
    }

    /// <summary>What the gateway's instruments record while a test runs.</summary>
    private sealed class Recorded : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly List<double> _commitToPush = [];
        private readonly Dictionary<string, long> _gauges = [];
        private long _ingestRequests;
        private long _webSocketConnections;

        public Recorded()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name is Telemetry.MeterName or "Microsoft.AspNetCore.Hosting" or "Microsoft.AspNetCore.Http.Connections")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
            {
                if (instrument.Name == "ae.gateway.commit_to_push")
                {
                    lock (_commitToPush)
                    {
                        _commitToPush.Add(value);
                    }
                }
                else if (instrument.Name == "http.server.request.duration" && Tag(tags, "http.route") is "/ingest/{objectModel}")
                {
                    Interlocked.Increment(ref _ingestRequests);
                }
            });
            // Gauges counting an int collection report ints.
            _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => OnLong(instrument, value, tags));
            _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => OnLong(instrument, value, tags));
            _listener.Start();
        }

        private void OnLong(Instrument instrument, long value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            if (instrument.Name == "signalr.server.active_connections" && Tag(tags, "signalr.transport") is "web_sockets")
            {
                Interlocked.Add(ref _webSocketConnections, value);
            }
            else if (instrument.Name.StartsWith("ae.gateway.", StringComparison.Ordinal))
            {
                lock (_gauges)
                {
                    var key = Tag(tags, "viewers") is { } viewers ? $"{instrument.Name}/{viewers}" : instrument.Name;
                    _gauges[key] = _gauges.GetValueOrDefault(key) + value;
                }
            }
        }

        public IReadOnlyList<double> CommitToPush
        {
            get { lock (_commitToPush) { return [.. _commitToPush]; } }
        }

        public long IngestRequests => Interlocked.Read(ref _ingestRequests);

        /// <summary>Connections opened minus closed since the listener started.</summary>
        public long WebSocketConnections => Interlocked.Read(ref _webSocketConnections);

        /// <summary>One reading of the gateway's gauges (summed over gateways in this process), by name and viewers range.</summary>
        public Dictionary<string, long> Observe()
        {
            lock (_gauges)
            {
                _gauges.Clear();
            }

            _listener.RecordObservableInstruments();
            lock (_gauges)
            {
                return new Dictionary<string, long>(_gauges);
            }
        }

        public void Dispose() => _listener.Dispose();

        private static object? Tag(ReadOnlySpan<KeyValuePair<string, object?>> tags, string name)
        {
            foreach (var tag in tags)
            {
                if (tag.Key == name)
                {
                    return tag.Value;
                }
            }

            return null;
        }
    }
}
