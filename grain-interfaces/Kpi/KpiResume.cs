namespace AnalyticsEngine.Kpi;

/// <summary>
/// Which version of one bucket a client holds: what a reconnecting client sends back so that the server
/// answers only what differs. A value is identified by its bucket, revision and finality, because a bucket
/// becoming final is announced again with the same revision.
/// </summary>
[GenerateSerializer, Immutable, Alias("ae.KpiBucketVersion")]
public sealed record KpiBucketVersion(
    [property: Id(0)] DateTimeOffset BucketStart,
    [property: Id(1)] long Revision,
    [property: Id(2)] bool IsFinal)
{
    public static KpiBucketVersion Of(KpiValue value) => new(value.BucketStart, value.Revision, value.IsFinal);

    public bool Matches(KpiValue value) => value.BucketStart == BucketStart && value.Revision == Revision && value.IsFinal == IsFinal;
}

/// <summary>
/// The answer to a resumed subscription: only the values that differ from what the client said it holds,
/// plus the buckets it holds that the server no longer keeps.
/// </summary>
/// <param name="Changed">
/// Values of the recent window and of the buckets the client listed whose revision or finality differs from
/// the client's (or that it lacks), oldest first. The client replaces its bucket with each one, whatever
/// revision it held: after a replay the server's revision can be lower than one the client saw.
/// </param>
/// <param name="Expired">Buckets the client listed that are older than the server's retention; the client drops them.</param>
/// <param name="Current">Start of the bucket holding "now", so the client knows where its window ends.</param>
[GenerateSerializer, Immutable, Alias("ae.KpiResume")]
public sealed record KpiResume(
    [property: Id(0)] string ClientId,
    [property: Id(1)] string KpiCode,
    [property: Id(2)] Granularity Granularity,
    [property: Id(3)] DateTimeOffset Current,
    [property: Id(4)] IReadOnlyList<KpiValue> Changed,
    [property: Id(5)] IReadOnlyList<DateTimeOffset> Expired)
{
    /// <summary>
    /// The definition the series is computed under (<see cref="KpiDefinitionVersion"/>): when it is not that of the
    /// values the client holds, they were computed under another formula or time zone, and the client drops them
    /// and subscribes afresh.
    /// </summary>
    [Id(6)]
    public string? Definition { get; init; }
}

/// <summary>Which of two values of one bucket is the newer, the rule every consumer of pushes applies.</summary>
public static class KpiVersions
{
    /// <summary>
    /// True when <paramref name="candidate"/> supersedes <paramref name="held"/>: a higher revision, or the same
    /// revision now final (finality is announced without a new revision).
    /// </summary>
    public static bool IsNewer(KpiValue candidate, KpiValue held) =>
        IsNewer(candidate.Revision, candidate.IsFinal, held.Revision, held.IsFinal);

    /// <summary>The same rule on bare versions.</summary>
    public static bool IsNewer(long revision, bool isFinal, long heldRevision, bool heldIsFinal) =>
        revision > heldRevision || (revision == heldRevision && isFinal && !heldIsFinal);
}
