namespace AnalyticsEngine.Query;

/// <summary>
/// Answers one-time KPI queries from the stored rows (stateless worker; use key 0). The same formula the stream
/// evaluates is compiled to one SQL statement, so a bucket's value equals the stream's for the same rows.
/// </summary>
[Alias("ae.IKpiQueryGrain")]
public interface IKpiQueryGrain : IGrainWithIntegerKey
{
    /// <summary>
    /// How long a caller waits for a query call. A statement may run for <c>Query:StatementTimeout</c> (30 s) and a
    /// batch for <c>Query:BatchTimeout</c> (2 min), past the cluster's default response timeout (the gateway's is 10 s),
    /// which would otherwise answer a slow but healthy query with a failure while it went on running. The silo checks
    /// at start that its limits fit within it.
    /// </summary>
    public const string CallTimeout = "00:05:00";

    /// <summary>One KPI over a range; a bad request comes back as <see cref="KpiQueryResult.Error"/>, not as an exception.</summary>
    [ResponseTimeout(CallTimeout)]
    Task<KpiQueryResult> Calculate(KpiQuery query, CancellationToken cancellationToken = default);

    /// <summary>Several queries; each result carries its own error, if any.</summary>
    [ResponseTimeout(CallTimeout)]
    Task<IReadOnlyList<KpiQueryResult>> CalculateBatch(IReadOnlyList<KpiQuery> queries, CancellationToken cancellationToken = default);

    /// <summary>Every KPI the client has selected, over one range and granularity.</summary>
    [ResponseTimeout(CallTimeout)]
    Task<IReadOnlyList<KpiQueryResult>> CalculateDashboard(
        string clientId, DateTimeOffset from, DateTimeOffset to, QueryGranularity granularity, CancellationToken cancellationToken = default);

    /// <summary>How far each of a client's partitions with rollups is rolled up for queries, and whether some term or dimension still misses rows.</summary>
    Task<IReadOnlyList<PartitionRollupStatus>> RollupStatus(string clientId, CancellationToken cancellationToken = default);
}

/// <summary>A client's partition of one object model, as far as its query rollups go.</summary>
/// <param name="ObjectModel">The object model.</param>
/// <param name="Rows">The rows committed to the partition (its last sequence).</param>
/// <param name="RolledUp">The rows in the rollups (the watermark); a query reads the rest raw.</param>
/// <param name="Complete">
/// Whether every term and dimension the running release reads from rollups holds those rows; if not, queries read
/// them raw and the partition backfills them in the background.
/// </param>
/// <param name="RestartedAt">When rollups of some term or dimension were last deleted to be backfilled afresh, if ever.</param>
/// <param name="Missing">
/// The most rolled-up rows some term or dimension still misses: a backfill counts it down to 0 (a term or dimension
/// that waits to restart, after a roll-up left it out, misses them all).
/// </param>
[GenerateSerializer, Immutable, Alias("ae.PartitionRollupStatus")]
public sealed record PartitionRollupStatus(
    [property: Id(0)] string ObjectModel,
    [property: Id(1)] long Rows,
    [property: Id(2)] long RolledUp,
    [property: Id(3)] bool Complete,
    [property: Id(4)] DateTimeOffset? RestartedAt,
    [property: Id(5)] long Missing);
