using AnalyticsEngine.Proposals;
using Orleans.Concurrency;

namespace AnalyticsEngine.Archive;

/// <summary>
/// A client's retention policy: the retention answers of the proposal questionnaire as given, and the days they come
/// to once each compliance regime's minimum is met (<see cref="Effective"/>, with notes on what the regimes changed).
/// </summary>
[GenerateSerializer, Immutable, Alias("ae.RetentionPolicy")]
public sealed record RetentionPolicy(
    [property: Id(0)] string ClientId,
    [property: Id(1)] RetentionAnswers Answers,
    [property: Id(2)] ProposalRetention Effective,
    [property: Id(3)] DateTimeOffset UpdatedAt,
    [property: Id(4)] string UpdatedBy);

/// <summary>A policy saved, or the problems of its answers, each naming its field.</summary>
[GenerateSerializer, Immutable, Alias("ae.RetentionPolicyOutcome")]
public sealed record RetentionPolicyOutcome(
    [property: Id(0)] RetentionPolicy? Policy,
    [property: Id(1)] IReadOnlyList<string> Problems);

/// <summary>What a segment holds: rows of an object model (staged source data) or batch-run results (analytics data).</summary>
public enum ArchivedDataKind
{
    Source = 0,
    Analytics = 1,
}

/// <summary>One archived segment as the index lists it: a compressed file in cold storage and what is in it.</summary>
/// <param name="Source">The object model's code, or <c>batch_runs</c>.</param>
/// <param name="From">The earliest event time (scheduled time of a batch run) its rows can have.</param>
/// <param name="To">The end, exclusive, of its rows' times.</param>
/// <param name="Sha256">The file's SHA-256, checked whenever it is read back.</param>
/// <param name="ExpiresAt">When the policy deletes it; null while it is kept for good (or no policy is set).</param>
/// <param name="RestoredUntil">While set, its rows are back in the active tables for queries, until then.</param>
/// <param name="ReplacedBefore">
/// Of a snapshot object's rows: newer rows of their keys, all older than this, replaced them; a bucket ending at or
/// after it does not read them.
/// </param>
[GenerateSerializer, Immutable, Alias("ae.ArchiveSegment")]
public sealed record ArchiveSegment(
    [property: Id(0)] long SegmentId,
    [property: Id(1)] ArchivedDataKind Kind,
    [property: Id(2)] string Source,
    [property: Id(3)] DateTimeOffset From,
    [property: Id(4)] DateTimeOffset To,
    [property: Id(5)] long Rows,
    [property: Id(6)] long Bytes,
    [property: Id(7)] string Sha256,
    [property: Id(8)] string Location,
    [property: Id(9)] DateTimeOffset ArchivedAt,
    [property: Id(10)] DateTimeOffset? ExpiresAt,
    [property: Id(11)] DateTimeOffset? RestoredUntil,
    [property: Id(12)] DateTimeOffset? ReplacedBefore = null);

/// <summary>What one archival run did for a client.</summary>
/// <param name="SourceHorizon">Rows of object models older than this left the active tables (null: no policy).</param>
/// <param name="AnalyticsHorizon">Batch runs scheduled before this left the active tables (null: no policy).</param>
/// <param name="RowsArchived">Rows written to new segments (and removed from the active tables).</param>
/// <param name="RowsDeleted">Rows removed without an archive (the policy archives nothing of that kind).</param>
/// <param name="SegmentsRestoredAgain">Restored segments whose rows left the active tables again, their time up.</param>
/// <param name="RollupRowsDeleted">Rollup rows of slots no longer kept.</param>
/// <param name="MovesPostponedUntil">
/// Set when no rows left the active tables: queries allowed by an earlier activation of the archive (lost with its silo)
/// may read them until then. The next run moves them.
/// </param>
[GenerateSerializer, Immutable, Alias("ae.ArchiveRun")]
public sealed record ArchiveRun(
    [property: Id(0)] DateTimeOffset RanAt,
    [property: Id(1)] DateTimeOffset? SourceHorizon,
    [property: Id(2)] DateTimeOffset? AnalyticsHorizon,
    [property: Id(3)] int SegmentsWritten,
    [property: Id(4)] long RowsArchived,
    [property: Id(5)] long RowsDeleted,
    [property: Id(6)] int SegmentsExpired,
    [property: Id(7)] int SegmentsRestoredAgain,
    [property: Id(8)] long RollupRowsDeleted,
    [property: Id(9)] DateTimeOffset? MovesPostponedUntil = null);

/// <summary>A span of time <c>[From, To)</c>.</summary>
[GenerateSerializer, Immutable, Alias("ae.ArchivedRange")]
public readonly record struct ArchivedRange([property: Id(0)] DateTimeOffset From, [property: Id(1)] DateTimeOffset To);

/// <summary>How a query reads one object model: raw rows only, or rollups for whole slots.</summary>
/// <param name="RollupCoverages">
/// Null when the query reads the model's raw rows only; otherwise the rollups it reads, as <c>query.rollup_terms</c>
/// names their coverages (its terms and events, in total or per value of a dimension).
/// </param>
[GenerateSerializer, Immutable, Alias("ae.ObjectModelRead")]
public sealed record ObjectModelRead(
    [property: Id(0)] string ObjectModel,
    [property: Id(1)] IReadOnlyList<long>? RollupCoverages);

/// <summary>What a query over old days tells the archive before it runs.</summary>
/// <param name="From">The start of its first bucket.</param>
/// <param name="To">The end of its last bucket.</param>
/// <param name="Reads">Each object model its formula reads, and how.</param>
/// <param name="RawRanges">Where it reads raw rows whatever the rollups hold: the edges of buckets that no whole slot covers.</param>
[GenerateSerializer, Immutable, Alias("ae.ArchiveQuery")]
public sealed record ArchiveQuery(
    [property: Id(0)] DateTimeOffset From,
    [property: Id(1)] DateTimeOffset To,
    [property: Id(2)] IReadOnlyList<ObjectModelRead> Reads,
    [property: Id(3)] IReadOnlyList<ArchivedRange> RawRanges)
{
    /// <summary>A query (or a replay) that reads the raw rows of <paramref name="objectModels"/> over the whole range.</summary>
    public static ArchiveQuery RawRowsOnly(DateTimeOffset from, DateTimeOffset to, IEnumerable<string> objectModels) =>
        new(from, to, objectModels.Select(m => new ObjectModelRead(m, null)).ToArray(), []);
}

/// <summary>
/// Archived segments of an object model that a query reads through the model's rollups rather than as rows: the
/// rollups must hold them (whole after an earlier segment than <paramref name="FirstSegment"/>), or the query must read
/// raw rows that are all back (<paramref name="RowsBack"/>).
/// </summary>
[GenerateSerializer, Immutable, Alias("ae.ArchivedThroughRollups")]
public sealed record ArchivedThroughRollups(
    [property: Id(0)] string ObjectModel,
    [property: Id(1)] long FirstSegment,
    [property: Id(2)] bool RowsBack);

/// <summary>What a query over old days must do about archived rows.</summary>
/// <param name="RawRanges">
/// Where it must read raw rows, not rollups (the rows of these days are back in the active tables): days whose rollups
/// were deleted, or do not hold every archived row, or that its raw edges reach.
/// </param>
/// <param name="ThroughRollups">The archived segments elsewhere in its range, per object model read through rollups.</param>
/// <param name="RawRowModels">
/// The object models it said it reads raw: all their archived rows it reads are back, and it must not read their
/// rollups instead, which need not hold them.
/// </param>
/// <param name="SegmentsRead">The archived segments its range reaches (0: the archive has nothing it reads).</param>
/// <param name="SegmentsRestored">Segments this call put back into the active tables.</param>
/// <param name="RollupsDeletedBefore">Before when runs had deleted the client's rollup slots, as the archive decided by.</param>
[GenerateSerializer, Immutable, Alias("ae.ArchiveAccess")]
public sealed record ArchiveAccess(
    [property: Id(0)] IReadOnlyList<ArchivedRange> RawRanges,
    [property: Id(1)] IReadOnlyList<ArchivedThroughRollups> ThroughRollups,
    [property: Id(2)] IReadOnlyList<string> RawRowModels,
    [property: Id(3)] int SegmentsRead,
    [property: Id(4)] int SegmentsRestored,
    [property: Id(5)] DateTimeOffset? RollupsDeletedBefore = null);

/// <summary>An archived segment's file as stored (gzip-compressed CSV with a header), or why it cannot be given.</summary>
[GenerateSerializer, Immutable, Alias("ae.ArchiveFile")]
public sealed record ArchiveFile(
    [property: Id(0)] ArchiveSegment Segment,
    [property: Id(1)] byte[]? Content,
    [property: Id(2)] string? Problem);

/// <summary>
/// A client's archival and retention (one grain per client id): its policy, the daily run that moves rows past their
/// active period to cold storage (or deletes them) and deletes archives past theirs, and the restoring of archived
/// rows that a query over an older range needs.
/// </summary>
public interface IArchiveGrain : IGrainWithStringKey
{
    Task<RetentionPolicy?> GetPolicy();

    /// <summary>Saves the policy (replacing any), or answers its problems; a policy's first save starts the daily run.</summary>
    Task<RetentionPolicyOutcome> SetPolicy(RetentionAnswers answers, string actor);

    /// <summary>Removes the policy: nothing more is archived or deleted; archived segments stay.</summary>
    Task<bool> RemovePolicy();

    /// <summary>Runs archival now (it also runs daily while a policy is set).</summary>
    [ResponseTimeout("00:10:00")]
    Task<ArchiveRun> RunNow();

    /// <summary>The archived segments whose rows' times overlap [<paramref name="from"/>, <paramref name="to"/>), oldest first.</summary>
    Task<IReadOnlyList<ArchiveSegment>> Segments(DateTimeOffset from, DateTimeOffset to, int limit);

    /// <summary>
    /// Before a query (<paramref name="ask"/>) over old days: puts back for a while the archived rows it reads raw
    /// (those its rollups do not hold), and keeps every row and rollup in the active tables until the caller says
    /// <paramref name="query"/> has ended (<see cref="EndQuery"/>, whether this call succeeded or not) or
    /// <c>Archive:QueryHold</c> has passed.
    /// </summary>
    [ResponseTimeout("00:05:00")]
    Task<ArchiveAccess> PrepareQuery(Guid query, ArchiveQuery ask);

    /// <summary>
    /// The file of one of the client's segments, checked against its SHA-256, or null when the client has no such
    /// segment: archived rows and batch runs as they left the active tables, for an audit or an export.
    /// </summary>
    [ResponseTimeout("00:02:00")]
    Task<ArchiveFile?> ReadSegment(long segmentId);

    /// <summary>The query <see cref="PrepareQuery"/> answered for has ended: a run waiting for it may go on.</summary>
    [OneWay, AlwaysInterleave]
    Task EndQuery(Guid query);
}
