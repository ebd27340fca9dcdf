using AnalyticsEngine.Ingest;

namespace AnalyticsEngine.Kpi.Engine;

/// <summary>
/// A checkpoint of a <see cref="ClientKpiEngine"/>: positions per object model and every partial state, stored
/// with term keys (not slot numbers) so a checkpoint survives KPIs being added or removed.
/// </summary>
[GenerateSerializer, Alias("ae.ClientKpiEngineState")]
public sealed class ClientKpiEngineState
{
    /// <summary>Highest sequence applied per object model.</summary>
    [Id(0)]
    public Dictionary<string, long> Positions { get; set; } = [];

    /// <summary>Per object model, the term keys in the order their accumulators appear in <see cref="ExportedPart"/>.</summary>
    [Id(1)]
    public List<ExportedObjectLayout> Layouts { get; set; } = [];

    /// <summary>Buckets of every granularity.</summary>
    [Id(2)]
    public List<ExportedBucket> Buckets { get; set; } = [];

    /// <summary>Retained rows of snapshot objects (the per-key histories).</summary>
    [Id(3)]
    public List<ExportedSnapshotRows> SnapshotRows { get; set; } = [];

    /// <summary>Retention floor per granularity (Minute, Hour, Day) as Unix ticks.</summary>
    [Id(4)]
    public long[] RetentionStarts { get; set; } = [];

    /// <summary>Every distinct text value once; parts refer to them by index, since the same values recur in every bucket.</summary>
    [Id(6)]
    public List<string> Texts { get; set; } = [];

    /// <summary>Per granularity, start of the bucket that held "now" at the last drain (Unix ticks).</summary>
    [Id(5)]
    public long[] CurrentStarts { get; set; } = [];

    /// <summary>Per granularity, per object model, the revision carried from before retention (<see cref="BucketSeries.RevisionBeforeRetention"/>).</summary>
    [Id(7)]
    public List<Dictionary<string, long>> RevisionsBeforeRetention { get; set; } = [];
}

/// <summary>How one object model's accumulators and distinct sets are laid out in the exported parts.</summary>
[GenerateSerializer, Alias("ae.ExportedObjectLayout")]
public sealed class ExportedObjectLayout
{
    [Id(0)]
    public string ObjectModel { get; set; } = string.Empty;

    /// <summary>Term keys whose accumulators fill <see cref="ExportedPart.Numbers"/>, in order (sum+count take two).</summary>
    [Id(1)]
    public List<string> NumberTerms { get; set; } = [];

    /// <summary>Term keys whose distinct sets fill <see cref="ExportedPart.DistinctNumbers"/> / <see cref="ExportedPart.DistinctTexts"/>.</summary>
    [Id(2)]
    public List<string> SetTerms { get; set; } = [];
}

/// <summary>One minute, hour or day bucket.</summary>
[GenerateSerializer, Alias("ae.ExportedBucket")]
public sealed class ExportedBucket
{
    [Id(0)]
    public Granularity Granularity { get; set; }

    /// <summary>Bucket start, Unix ticks.</summary>
    [Id(1)]
    public long Start { get; set; }

    /// <summary>Bucket end, Unix ticks.</summary>
    [Id(2)]
    public long End { get; set; }

    [Id(3)]
    public bool FinalAnnounced { get; set; }

    [Id(4)]
    public List<ExportedPart> Parts { get; set; } = [];
}

/// <summary>One object model's share of a bucket.</summary>
[GenerateSerializer, Alias("ae.ExportedPart")]
public sealed class ExportedPart
{
    /// <summary>Index into <see cref="ClientKpiEngineState.Layouts"/>.</summary>
    [Id(0)]
    public int Layout { get; set; }

    [Id(1)]
    public long EventCount { get; set; }

    [Id(2)]
    public long Revision { get; set; }

    [Id(3)]
    public long NewestTicks { get; set; }

    /// <summary>The accumulators, packed (whole numbers as varints; see PackedNumbers).</summary>
    [Id(4)]
    public byte[] Numbers { get; set; } = [];

    /// <summary>Per set term: its numeric values, packed like <see cref="Numbers"/> (empty for text sets).</summary>
    [Id(5)]
    public byte[][] DistinctNumbers { get; set; } = [];

    /// <summary>Per set term: its text values as indexes into <see cref="ClientKpiEngineState.Texts"/> (empty for numeric sets).</summary>
    [Id(6)]
    public int[][] DistinctTexts { get; set; } = [];
}

/// <summary>The retained rows of one snapshot object model.</summary>
[GenerateSerializer, Alias("ae.ExportedSnapshotRows")]
public sealed class ExportedSnapshotRows
{
    [Id(0)]
    public string ObjectModel { get; set; } = string.Empty;

    [Id(1)]
    public List<EventRow> Rows { get; set; } = [];
}
