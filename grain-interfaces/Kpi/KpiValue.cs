namespace AnalyticsEngine.Kpi;

/// <summary>The width of a time bucket, in the client's time zone.</summary>
public enum Granularity
{
    Minute = 0,
    Hour = 1,
    Day = 2,
    Week = 3,
    Month = 4,
}

/// <summary>A named intermediate of a KPI value, e.g. its numerator and denominator.</summary>
[GenerateSerializer, Immutable, Alias("ae.KpiComponent")]
public sealed record KpiComponent(
    [property: Id(0)] string Name,
    [property: Id(1)] double? Value)
{
    /// <summary>
    /// The component of an aggregate's result, the same on the stream and the query path: no value where the aggregate
    /// has none (NaN) or overflowed (±∞), which no JSON number can carry.
    /// </summary>
    public static KpiComponent Of(string name, double aggregate) => new(name, double.IsFinite(aggregate) ? aggregate : null);
}

/// <summary>How far one source partition (a client's object model) has been applied.</summary>
[GenerateSerializer, Immutable, Alias("ae.SourcePosition")]
public sealed record SourcePosition(
    [property: Id(0)] string ObjectModel,
    [property: Id(1)] long Sequence);

/// <summary>
/// The value of one KPI for one client in one time bucket, and how fresh and complete it is.
/// Every consumer — a dashboard over SignalR, an HTTP query — sees this shape.
/// </summary>
/// <param name="Value">The value, or null when it has none (see <paramref name="NoValueReason"/>).</param>
/// <param name="Revision">Increments each time this bucket's value is recomputed from new events.</param>
/// <param name="IsFinal">True once the bucket is older than the allowed lateness; a later event still corrects it.</param>
/// <param name="NewestEventTime">Event time of the newest event the value includes.</param>
/// <param name="AsOf">The highest sequence applied per source object model.</param>
/// <param name="EventCount">How many events fell into this bucket.</param>
[GenerateSerializer, Immutable, Alias("ae.KpiValue")]
public sealed record KpiValue(
    [property: Id(0)] string ClientId,
    [property: Id(1)] string KpiCode,
    [property: Id(2)] Granularity Granularity,
    [property: Id(3)] DateTimeOffset BucketStart,
    [property: Id(4)] DateTimeOffset BucketEnd,
    [property: Id(5)] double? Value,
    [property: Id(6)] string? NoValueReason,
    [property: Id(7)] IReadOnlyList<KpiComponent> Components,
    [property: Id(8)] long Revision,
    [property: Id(9)] bool IsFinal,
    [property: Id(10)] DateTimeOffset? NewestEventTime,
    [property: Id(11)] IReadOnlyList<SourcePosition> AsOf,
    [property: Id(12)] long EventCount)
{
    /// <summary>
    /// On a pushed change made by a committed batch: when that batch was committed (<c>EventBatch.CommittedAt</c>),
    /// so a receiver can tell how long the change took to reach it. Null in snapshots, answers and queries, and on
    /// changes that time alone made (a bucket turning final).
    /// </summary>
    [Id(13)]
    public DateTimeOffset? CommittedAt { get; init; }
}

/// <summary>What a new watcher of a KPI receives at once: the current bucket and the recent series.</summary>
[GenerateSerializer, Immutable, Alias("ae.KpiSnapshot")]
public sealed record KpiSnapshot(
    [property: Id(0)] string ClientId,
    [property: Id(1)] string KpiCode,
    [property: Id(2)] Granularity Granularity,
    [property: Id(3)] KpiValue? Current,
    [property: Id(4)] IReadOnlyList<KpiValue> Recent)
{
    /// <summary>The definition the series is computed under (<see cref="KpiDefinitionVersion"/>); null for a KPI not computed.</summary>
    [Id(5)]
    public string? Definition { get; init; }
}

/// <summary>
/// A short fingerprint of what a series' values mean: the KPI's formula and the time zone its buckets are cut in.
/// It changes exactly when the series is rebuilt under a new definition, whose values count the same events and so
/// carry the same revisions as the old ones: a client holding values of another definition must replace them all.
/// </summary>
public static class KpiDefinitionVersion
{
    public static string Of(string formula, string timeZone)
    {
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(formula + "\n" + timeZone));
        return Convert.ToHexStringLower(hash, 0, 8);
    }
}
