namespace AnalyticsEngine.Kpi.Engine;

/// <summary>
/// What one bucket knows about one object model: the partial states of that model's event terms, how many rows
/// fell into the bucket, the newest event time and the revision.
/// </summary>
internal sealed class BucketPart(int numberSlots, int setSlots)
{
    /// <summary>Accumulators of the object's event terms, laid out by <see cref="ObjectRuntime"/> (sum,count | min | max).</summary>
    public double[] Numbers { get; } = NewNumbers(numberSlots);

    /// <summary>Distinct-value sets (HashSet&lt;double&gt; or HashSet&lt;string&gt;), created on first value.</summary>
    public object?[] Sets { get; } = setSlots == 0 ? [] : new object?[setSlots];

    public long EventCount { get; set; }

    public long Revision { get; set; }

    public long NewestTicks { get; set; } = long.MinValue;

    private static double[] NewNumbers(int count) => count == 0 ? [] : new double[count];
}

/// <summary>One minute, hour or day bucket: a part per object model that had rows in it, plus publishing marks.</summary>
internal sealed class Bucket(BucketRange range, int objectCount)
{
    public BucketRange Range { get; } = range;

    public BucketPart?[] Parts { get; } = new BucketPart?[objectCount];

    /// <summary>Bit i set: object model i changed this bucket since the last drain.</summary>
    public ulong DirtyObjects { get; set; }

    /// <summary>The drain after the bucket became final has published it with IsFinal = true.</summary>
    public bool FinalAnnounced { get; set; }
}
