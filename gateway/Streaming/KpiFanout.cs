using System.Diagnostics.Metrics;
using AnalyticsEngine.Kpi;
using AnalyticsEngine.ServiceDefaults;
using Microsoft.AspNetCore.SignalR;

namespace AnalyticsEngine.Gateway.Streaming;

/// <summary>One watched series: a KPI of a client at one granularity.</summary>
public readonly record struct WatchKey(string ClientId, string KpiCode, Granularity Granularity)
{
    public string GroupName => $"kpi:{ClientId}/{KpiCode}/{Granularity}";
}

/// <summary>
/// Compute once, fan out: however many connections of this gateway watch a series, the gateway holds one
/// upstream watch on the KPI grain (through a single observer) and SignalR groups fan each change out.
/// The last viewer leaving ends the upstream watch. Watches are leases, renewed here periodically.
/// </summary>
public sealed class KpiFanout : BackgroundService, IKpiObserver
{
    private static readonly TimeSpan RenewEvery = KpiGrainLease.Renewal;

    private readonly IClusterClient _cluster;
    private readonly IHubContext<KpiHub> _hub;
    private readonly ILogger<KpiFanout> _logger;
    private readonly Lock _gate = new();
    private readonly Dictionary<WatchKey, HashSet<string>> _viewersByKey = [];
    private readonly Dictionary<string, HashSet<WatchKey>> _keysByConnection = [];
    private readonly Meter _meter = new(Telemetry.MeterName);
    private readonly Counter<long> _pushes;
    private IKpiObserver? _reference;

    public KpiFanout(IClusterClient cluster, IHubContext<KpiHub> hub, ILogger<KpiFanout> logger)
    {
        _cluster = cluster;
        _hub = hub;
        _logger = logger;
        _pushes = _meter.CreateCounter<long>("ae.gateway.pushes", "{message}", "KPI change messages sent to SignalR groups");
        _meter.CreateObservableGauge("ae.gateway.watched_series", () => { lock (_gate) { return _viewersByKey.Count; } },
            "{series}", "Series with at least one viewer on this gateway");
        _meter.CreateObservableGauge("ae.gateway.viewers", () => { lock (_gate) { return _viewersByKey.Values.Sum(v => v.Count); } },
            "{subscription}", "Subscriptions held by connections of this gateway");
    }

    private IKpiObserver Reference => _reference ??= _cluster.CreateObjectReference<IKpiObserver>(this);

    public bool CanAdd(string connectionId, WatchKey key, int limit)
    {
        lock (_gate)
        {
            return !_keysByConnection.TryGetValue(connectionId, out var keys) || keys.Contains(key) || keys.Count < limit;
        }
    }

    public async Task<KpiSnapshot> AddViewerAsync(string connectionId, WatchKey key, int recentBuckets)
    {
        bool first;
        lock (_gate)
        {
            if (!_viewersByKey.TryGetValue(key, out var viewers))
            {
                _viewersByKey[key] = viewers = [];
            }

            first = viewers.Count == 0;
            viewers.Add(connectionId);
            if (!_keysByConnection.TryGetValue(connectionId, out var keys))
            {
                _keysByConnection[connectionId] = keys = [];
            }

            keys.Add(key);
        }

        // Every viewer gets a fresh snapshot; only the first one registers upstream.
        return first
            ? await KpiGrainOf(key).Watch(Reference, key.Granularity, recentBuckets)
            : await _cluster.GetGrain<IClientKpiGrain>(key.ClientId).GetSnapshot(key.KpiCode, key.Granularity, recentBuckets);
    }

    public async Task RemoveViewerAsync(string connectionId, WatchKey key)
    {
        bool last;
        lock (_gate)
        {
            last = RemoveLocked(connectionId, key);
            if (_keysByConnection.TryGetValue(connectionId, out var keys))
            {
                keys.Remove(key);
            }
        }

        if (last)
        {
            await KpiGrainOf(key).Unwatch(Reference, key.Granularity);
        }
    }

    public async Task RemoveConnectionAsync(string connectionId)
    {
        List<WatchKey> emptied = [];
        lock (_gate)
        {
            if (_keysByConnection.Remove(connectionId, out var keys))
            {
                emptied.AddRange(keys.Where(key => RemoveLocked(connectionId, key)));
            }
        }

        foreach (var key in emptied)
        {
            await KpiGrainOf(key).Unwatch(Reference, key.Granularity);
        }
    }

    /// <summary>Called by KPI grains; sends each granularity's values to its SignalR group.</summary>
    public Task OnKpiChanged(KpiValue[] changes)
    {
        foreach (var group in changes.GroupBy(c => new WatchKey(c.ClientId, c.KpiCode, c.Granularity)))
        {
            _pushes.Add(1);
            _ = _hub.Clients.Group(group.Key.GroupName).SendAsync(KpiHub.ChangedMethod, group.ToArray());
        }

        return Task.CompletedTask;
    }

    /// <summary>Renews every upstream watch before its lease runs out (and re-creates it after a silo failure).</summary>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(RenewEvery);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            WatchKey[] keys;
            lock (_gate)
            {
                keys = [.. _viewersByKey.Keys];
            }

            foreach (var key in keys)
            {
                try
                {
                    var snapshot = await KpiGrainOf(key).Watch(Reference, key.Granularity, 1);
                    // Whatever changed while a grain was being re-created reaches viewers now.
                    if (snapshot.Current is { } current)
                    {
                        await OnKpiChanged([current]);
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    _logger.LogWarning(ex, "Renewing the watch of {Series} failed; retrying next round", key.GroupName);
                }
            }
        }
    }

    public override void Dispose()
    {
        _meter.Dispose();
        base.Dispose();
    }

    private bool RemoveLocked(string connectionId, WatchKey key)
    {
        if (!_viewersByKey.TryGetValue(key, out var viewers) || !viewers.Remove(connectionId) || viewers.Count > 0)
        {
            return false;
        }

        _viewersByKey.Remove(key);
        return true;
    }

    private IKpiGrain KpiGrainOf(WatchKey key) => _cluster.GetGrain<IKpiGrain>(KpiGrainKeys.For(key.ClientId, key.KpiCode));
}
