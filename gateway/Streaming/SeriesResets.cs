using AnalyticsEngine.Kpi;

namespace AnalyticsEngine.Gateway.Streaming;

/// <summary>
/// The bookkeeping of resets on one gateway: which definition (<see cref="KpiDefinitionVersion"/>) each watched
/// series' viewers were last sent, which series are being reset (their new snapshot is being read), and the values
/// pushed meanwhile, which go out again after the snapshot since it may have been read before them. Not thread-safe:
/// <see cref="KpiFanout"/> uses it under its lock.
/// </summary>
public sealed class SeriesResets
{
    private readonly Dictionary<WatchKey, string> _definitions = [];
    private readonly Dictionary<WatchKey, List<KpiValue>> _pushedDuringRead = [];
    private readonly HashSet<WatchKey> _readAgain = [];

    /// <summary>Starts reading the series' new snapshot; false when a read is running already, which then reads again.</summary>
    public bool TryStart(WatchKey series)
    {
        if (_pushedDuringRead.TryAdd(series, []))
        {
            return true;
        }

        _readAgain.Add(series);
        return false;
    }

    /// <summary>Keeps values pushed to the series while its snapshot is read (none are kept otherwise).</summary>
    public void Record(WatchKey series, IEnumerable<KpiValue> values) => _pushedDuringRead.GetValueOrDefault(series)?.AddRange(values);

    /// <summary>
    /// Ends the read with its <paramref name="snapshot"/>, unless the series was redefined again while it was read (the
    /// snapshot may then be the older definition's; false, and the caller reads again). <paramref name="after"/> are the
    /// values to send after the snapshot: of those pushed meanwhile, the newest per bucket, and only buckets of the
    /// snapshot or after its current one (a bucket of another grid, pushed before a time zone changed, is no bucket now).
    /// </summary>
    public bool TryFinish(WatchKey series, KpiSnapshot snapshot, out KpiValue[] after)
    {
        after = [];
        if (_readAgain.Remove(series))
        {
            return false;
        }

        var pushed = _pushedDuringRead.GetValueOrDefault(series) ?? [];
        _pushedDuringRead.Remove(series);
        if (snapshot.Definition is { } definition)
        {
            _definitions[series] = definition;
        }

        var buckets = snapshot.Recent.Select(v => v.BucketStart).ToHashSet();
        var current = snapshot.Current?.BucketStart ?? DateTimeOffset.MaxValue;
        after = [.. pushed
            .Where(v => buckets.Contains(v.BucketStart) || v.BucketStart >= current)
            .GroupBy(v => v.BucketStart)
            .Select(bucket => bucket.Aggregate((newest, v) => KpiVersions.IsNewer(v, newest) ? v : newest))
            .OrderBy(v => v.BucketStart)];
        return true;
    }

    /// <summary>Gives up a read that failed (it is tried again later, as a new one).</summary>
    public void Abandon(WatchKey series)
    {
        _pushedDuringRead.Remove(series);
        _readAgain.Remove(series);
    }

    /// <summary>
    /// Whether a snapshot or resume answer of the series says it is now computed under another definition than its
    /// viewers were sent (a reset this gateway was never told of: the message was lost, or went to a KPI grain that
    /// had just lost its watchers); remembers the definition either way.
    /// </summary>
    public bool DefinitionChanged(WatchKey series, string? definition)
    {
        if (definition is null)
        {
            return false;
        }

        var known = _definitions.GetValueOrDefault(series);
        _definitions[series] = definition;
        return known is not null && known != definition;
    }

    /// <summary>Forgets a series no longer watched; a read still running finds no viewers and ends.</summary>
    public void Forget(WatchKey series) => _definitions.Remove(series);
}
