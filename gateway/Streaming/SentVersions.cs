using AnalyticsEngine.Kpi;

namespace AnalyticsEngine.Gateway.Streaming;

/// <summary>
/// What a gateway's viewers of one series were sent (pushed, or in a snapshot or resume answer), bucket by bucket, for
/// its newest <see cref="Capacity"/> buckets. The renewal round compares the KPI grain's recent buckets with it and
/// sends what a lost push left behind: pushes are one-way calls, and one can be lost while a silo leaves.
/// </summary>
public sealed class SentVersions(int capacity)
{
    private readonly SortedList<DateTimeOffset, KpiBucketVersion> _buckets = [];

    /// <summary>How many buckets are remembered: as many as a renewal reads back.</summary>
    public int Capacity { get; } = capacity;

    public void Remember(KpiBucketVersion version)
    {
        if (_buckets.TryGetValue(version.BucketStart, out var sent)
            && !KpiVersions.IsNewer(version.Revision, version.IsFinal, sent.Revision, sent.IsFinal))
        {
            return;
        }

        _buckets[version.BucketStart] = version;
        while (_buckets.Count > Capacity)
        {
            _buckets.RemoveAt(0);
        }
    }

    public void Remember(IEnumerable<KpiValue> values)
    {
        foreach (var value in values)
        {
            Remember(KpiBucketVersion.Of(value));
        }
    }

    /// <summary>
    /// The values viewers lack: a bucket they were sent in an older version, or one newer than the oldest remembered
    /// that they were never sent. A bucket with no events (revision 0) has nothing to tell; one older than what is
    /// remembered cannot be told apart, and is left alone.
    /// </summary>
    public KpiValue[] Unsent(IEnumerable<KpiValue> values) =>
    [
        .. values.Where(value => value.Revision > 0 && (_buckets.TryGetValue(value.BucketStart, out var sent)
            ? KpiVersions.IsNewer(value.Revision, value.IsFinal, sent.Revision, sent.IsFinal)
            : _buckets.Count < Capacity || value.BucketStart > _buckets.Keys[0])),
    ];
}
