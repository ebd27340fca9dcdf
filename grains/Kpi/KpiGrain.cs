using Microsoft.Extensions.Logging;

namespace AnalyticsEngine.Kpi;

/// <summary>
/// Fans one KPI's changes out to the gateways watching it. Watchers hold a lease that gateways renew;
/// a gateway that died simply stops renewing and is dropped. While nobody watches, the client grain is
/// told to stop publishing this KPI, so unwatched KPIs cost nothing beyond their state.
/// </summary>
public sealed class KpiGrain(ILogger<KpiGrain> logger) : Grain, IKpiGrain
{
    private readonly Dictionary<(IKpiObserver Observer, Granularity Granularity), DateTime> _watchers = [];
    private string _clientId = "";
    private string _kpiCode = "";

    // Whether the client grain may be publishing this KPI to us. A new activation cannot know (the client grain may
    // still publish to the one it replaces), so it assumes so: unwatched, it then tells the client grain to stop.
    private bool _publishing = true;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        (_clientId, _kpiCode) = KpiGrainKeys.Parse(this.GetPrimaryKeyString());
        this.RegisterGrainTimer(DropExpiredWatchers, new GrainTimerCreationOptions(KpiGrainLease.Renewal, KpiGrainLease.Renewal) { Interleave = true });
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        // Watchers live only in this activation. Told now, gateways watch again at once and so activate the grain
        // elsewhere (a call arriving while this one deactivates is forwarded to the next activation); otherwise
        // their series would stand still until their next renewal.
        foreach (var (observer, granularity) in _watchers.Keys)
        {
            observer.OnWatchEnded(_clientId, _kpiCode, granularity).Ignore();
        }

        return Task.CompletedTask;
    }

    public async Task<KpiSnapshot> Watch(IKpiObserver observer, Granularity granularity, int recentBuckets)
    {
        _watchers[(observer, granularity)] = DateTime.UtcNow + KpiGrainLease.Duration;
        var clientGrain = GrainFactory.GetGrain<IClientKpiGrain>(_clientId);
        // On every watch and renewal, not only the first: the client grain keeps what it publishes in memory alone,
        // so a new activation of it (its silo left) publishes nothing until asked again.
        await clientGrain.SetPublishing(_kpiCode, true);
        _publishing = true;

        return await clientGrain.GetSnapshot(_kpiCode, granularity, recentBuckets);
    }

    public Task Unwatch(IKpiObserver observer, Granularity granularity)
    {
        _watchers.Remove((observer, granularity));
        return StopPublishingWhenUnwatched();
    }

    public Task Publish(KpiValue[] changes)
    {
        if (_watchers.Count == 0)
        {
            // Activated by the client grain's publishing alone (the watched activation went), or published to by a new
            // activation of the client grain after this one said stop: nobody to tell, so it is told (again).
            _publishing = true;
            return StopPublishingWhenUnwatched();
        }

        foreach (var ((observer, granularity), _) in _watchers)
        {
            var forThisWatcher = Array.FindAll(changes, c => c.Granularity == granularity);
            if (forThisWatcher.Length > 0)
            {
                // One-way: a slow or dead gateway must not hold up the others.
                observer.OnKpiChanged(forThisWatcher).Ignore();
            }
        }

        return Task.CompletedTask;
    }

    public Task<int> GetWatcherCount() => Task.FromResult(_watchers.Count);

    public Task Redefined()
    {
        foreach (var (observer, granularity) in _watchers.Keys)
        {
            observer.OnSeriesRedefined(_clientId, _kpiCode, granularity).Ignore();
        }

        if (_watchers.Count == 0)
        {
            DeactivateOnIdle(); // activated only to be told
        }

        return Task.CompletedTask;
    }

    public async Task Ended(string reason)
    {
        foreach (var (observer, granularity) in _watchers.Keys)
        {
            observer.OnSeriesEnded(_clientId, _kpiCode, granularity, reason).Ignore();
        }

        _watchers.Clear();
        await StopPublishingWhenUnwatched();
        DeactivateOnIdle();
    }

    private Task DropExpiredWatchers(CancellationToken cancellationToken)
    {
        var now = DateTime.UtcNow;
        foreach (var key in _watchers.Where(w => w.Value < now).Select(w => w.Key).ToList())
        {
            logger.LogInformation("Watch of {Kpi} by a gateway expired", this.GetPrimaryKeyString());
            _watchers.Remove(key);
        }

        return StopPublishingWhenUnwatched();
    }

    private async Task StopPublishingWhenUnwatched()
    {
        if (_watchers.Count > 0 || !_publishing)
        {
            return;
        }

        _publishing = false;
        await GrainFactory.GetGrain<IClientKpiGrain>(_clientId).SetPublishing(_kpiCode, false);
        DeactivateOnIdle();
    }
}
