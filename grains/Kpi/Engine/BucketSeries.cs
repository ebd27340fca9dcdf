namespace AnalyticsEngine.Kpi.Engine;

/// <summary>
/// The buckets of one granularity, sorted by start, with a cache of the last bucket hit so that most events skip
/// the time-zone math, a list of buckets changed since the last drain, and the retention floor.
/// </summary>
internal sealed class BucketSeries(BucketCalendar calendar, int objectCount)
{
    private readonly List<Bucket> _buckets = [];
    private readonly Dictionary<long, Bucket> _byStart = [];
    private Bucket? _cached;

    public BucketCalendar Calendar { get; } = calendar;

    public Granularity Granularity => Calendar.Granularity;

    public IReadOnlyList<Bucket> Buckets => _buckets;

    public List<Bucket> Dirty { get; } = [];

    /// <summary>Start of the bucket that held "now" at the last drain.</summary>
    public long CurrentStart { get; set; } = long.MinValue;

    /// <summary>Buckets starting before this are evicted and not created again.</summary>
    public long RetentionStart { get; set; } = long.MinValue;

    /// <summary>
    /// Per object, the revision row-less buckets before its first retained part carry: the highest revision of its
    /// evicted parts, raised by every row older than retention. Without it a carried bucket's revision would fall back
    /// to 0 once the part it carried from was evicted, and a consumer holding the higher one would drop the correction.
    /// </summary>
    public long[] RevisionBeforeRetention { get; } = new long[objectCount];

    /// <summary>The bucket holding <paramref name="ticks"/>, created if needed; null when it is older than retention.</summary>
    public Bucket? GetOrCreate(long ticks)
    {
        var cached = _cached;
        if (cached is not null && ticks >= cached.Range.Start && ticks < cached.Range.End)
        {
            return cached;
        }

        // Late and out-of-order rows usually fall into a bucket that exists: find it without time-zone math.
        var before = IndexAtOrAfter(ticks + 1) - 1;
        if (before >= 0 && _buckets[before].Range.Contains(ticks))
        {
            _cached = _buckets[before];
            return _cached;
        }

        var range = Calendar.Resolve(ticks);
        if (range.Start < RetentionStart)
        {
            return null;
        }

        if (!_byStart.TryGetValue(range.Start, out var bucket))
        {
            bucket = new Bucket(range, objectCount);
            _byStart.Add(range.Start, bucket);
            Insert(bucket);
        }

        _cached = bucket;
        return bucket;
    }

    public Bucket? Find(long start) => _byStart.GetValueOrDefault(start);

    /// <summary>Index of the first bucket starting at or after <paramref name="start"/>.</summary>
    public int IndexAtOrAfter(long start)
    {
        int low = 0, high = _buckets.Count;
        while (low < high)
        {
            var mid = (low + high) >>> 1;
            if (_buckets[mid].Range.Start < start)
            {
                low = mid + 1;
            }
            else
            {
                high = mid;
            }
        }

        return low;
    }

    public void MarkDirty(Bucket bucket, ulong objects)
    {
        if (bucket.DirtyObjects == 0)
        {
            Dirty.Add(bucket);
        }

        bucket.DirtyObjects |= objects;
    }

    public void ClearDirty()
    {
        foreach (var bucket in Dirty)
        {
            bucket.DirtyObjects = 0;
        }

        Dirty.Clear();
    }

    /// <summary>Drops buckets older than <see cref="RetentionStart"/>.</summary>
    public void Evict()
    {
        var keep = IndexAtOrAfter(RetentionStart);
        if (keep == 0)
        {
            return;
        }

        for (var i = 0; i < keep; i++)
        {
            _byStart.Remove(_buckets[i].Range.Start);
            var parts = _buckets[i].Parts;
            for (var p = 0; p < parts.Length; p++)
            {
                if (parts[p] is { } part && part.Revision > RevisionBeforeRetention[p])
                {
                    RevisionBeforeRetention[p] = part.Revision;
                }
            }
        }

        _buckets.RemoveRange(0, keep);
        Dirty.RemoveAll(b => b.Range.Start < RetentionStart);
        if (_cached is not null && _cached.Range.Start < RetentionStart)
        {
            _cached = null;
        }
    }

    /// <summary>Adds a bucket restored from a checkpoint.</summary>
    public void Restore(Bucket bucket)
    {
        _byStart.Add(bucket.Range.Start, bucket);
        Insert(bucket);
    }

    private void Insert(Bucket bucket)
    {
        // Buckets almost always arrive in time order: appending is the common case.
        if (_buckets.Count == 0 || _buckets[^1].Range.Start < bucket.Range.Start)
        {
            _buckets.Add(bucket);
        }
        else
        {
            _buckets.Insert(IndexAtOrAfter(bucket.Range.Start), bucket);
        }
    }
}
