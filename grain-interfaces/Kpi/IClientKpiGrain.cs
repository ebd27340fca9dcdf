using Orleans.Concurrency;

namespace AnalyticsEngine.Kpi;

/// <summary>
/// Computes every KPI of one client (grain key: client id) incrementally from the client's event stream.
/// It is the single consumer of the client's stream, so terms shared by several KPIs are computed once.
/// </summary>
[Alias("ae.IClientKpiGrain")]
public interface IClientKpiGrain : IGrainWithStringKey
{
    /// <summary>Current bucket and the latest <paramref name="recentBuckets"/> buckets of one KPI.</summary>
    [AlwaysInterleave]
    Task<KpiSnapshot> GetSnapshot(string kpiCode, Granularity granularity, int recentBuckets);

    /// <summary>
    /// What a reconnecting viewer of one KPI missed: of the latest <paramref name="recentBuckets"/> buckets and the
    /// buckets it <paramref name="held"/>, the values that differ from its copy; held buckets past retention as expired.
    /// Throws <see cref="FormatException"/> when a held bucket start is not a bucket boundary in the client's time zone.
    /// </summary>
    [AlwaysInterleave]
    Task<KpiResume> Resume(string kpiCode, Granularity granularity, int recentBuckets, IReadOnlyList<KpiBucketVersion> held);

    /// <summary>
    /// One KPI over a rolling window (last N minutes, hours or days) or period to date (day, week, month,
    /// quarter, year), merged from its buckets; null when the client does not compute that KPI.
    /// </summary>
    [AlwaysInterleave]
    Task<KpiValue?> GetWindow(string kpiCode, KpiWindow window);

    /// <summary>Starts or stops forwarding changes of one KPI to its <see cref="IKpiGrain"/> ("smart publishing").</summary>
    [AlwaysInterleave]
    Task SetPublishing(string kpiCode, bool publishing);

    /// <summary>How far each of the client's source partitions has been applied.</summary>
    Task<IReadOnlyList<SourcePosition>> GetPositions();

    /// <summary>
    /// Reloads the client's configuration after it changed, and rebuilds the computation from the stored events when
    /// it computes something else now (a KPI added, removed or with another formula, or another time zone).
    /// </summary>
    /// <returns>Whether it rebuilt (false for a change of names, units or field mappings alone).</returns>
    Task<bool> Reconfigure();
}
