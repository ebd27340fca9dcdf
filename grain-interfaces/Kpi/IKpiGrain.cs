using Orleans.Concurrency;

namespace AnalyticsEngine.Kpi;

/// <summary>
/// The fan-out point of one KPI of one client (grain key: <c>{clientId}/{kpiCode}</c>). Gateways register
/// an observer per KPI and granularity they have viewers for; the grain forwards every change to them.
/// Computation stays in <see cref="IClientKpiGrain"/>; this grain only asks it to publish while watched.
/// </summary>
[Alias("ae.IKpiGrain")]
public interface IKpiGrain : IGrainWithStringKey
{
    /// <summary>Registers (or renews) a watcher and returns the current snapshot.</summary>
    Task<KpiSnapshot> Watch(IKpiObserver observer, Granularity granularity, int recentBuckets);

    Task Unwatch(IKpiObserver observer, Granularity granularity);

    /// <summary>Called by the client grain with the values that changed in one batch.</summary>
    /// <remarks>One-way, so the client grain never waits on (or deadlocks with) a KPI grain that is calling it.</remarks>
    [OneWay]
    Task Publish(KpiValue[] changes);

    Task<int> GetWatcherCount();

    /// <summary>
    /// The KPI's definition or the client's time zone changed and the client grain has rebuilt it: watchers are told
    /// that what their viewers hold no longer holds (<see cref="IKpiObserver.OnSeriesRedefined"/>).
    /// </summary>
    /// <remarks>One-way: a configuration change never waits on a KPI grain whose silo just went.</remarks>
    [OneWay]
    Task Redefined();

    /// <summary>The KPI is no longer computed for the client: watchers are told why, and forgotten.</summary>
    [OneWay]
    Task Ended(string reason);
}

/// <summary>A gateway's receiver of KPI changes.</summary>
[Alias("ae.IKpiObserver")]
public interface IKpiObserver : IGrainObserver
{
    [OneWay]
    Task OnKpiChanged(KpiValue[] changes);

    /// <summary>
    /// The KPI grain holding this watch is deactivating (its silo is leaving, say) and forgets its watchers: watch
    /// again now, which activates it elsewhere, rather than at the next renewal.
    /// </summary>
    [OneWay]
    Task OnWatchEnded(string clientId, string kpiCode, Granularity granularity);

    /// <summary>
    /// The series was rebuilt under a new definition (a changed formula or time zone): the values viewers hold are
    /// the old definition's, with the same revisions as the new ones, so a push alone would not replace them.
    /// </summary>
    [OneWay]
    Task OnSeriesRedefined(string clientId, string kpiCode, Granularity granularity);

    /// <summary>The series is no longer computed (its KPI was deleted or deselected); the watch is over.</summary>
    [OneWay]
    Task OnSeriesEnded(string clientId, string kpiCode, Granularity granularity, string reason);
}

/// <summary>How long a watch lives without renewal, and how often watchers renew it.</summary>
public static class KpiGrainLease
{
    public static readonly TimeSpan Duration = TimeSpan.FromSeconds(90);

    public static readonly TimeSpan Renewal = TimeSpan.FromSeconds(30);
}

public static class KpiGrainKeys
{
    public static string For(string clientId, string kpiCode) => $"{clientId}/{kpiCode}";

    public static (string ClientId, string KpiCode) Parse(string key)
    {
        var slash = key.IndexOf('/', StringComparison.Ordinal);
        return slash < 0 ? throw new FormatException($"'{key}' is not a KPI grain key") : (key[..slash], key[(slash + 1)..]);
    }
}
