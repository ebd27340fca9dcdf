namespace AnalyticsEngine.Query;

/// <summary>
/// Answers one-time KPI queries from the stored rows (stateless worker; use key 0). The same formula the stream
/// evaluates is compiled to one SQL statement, so a bucket's value equals the stream's for the same rows.
/// </summary>
[Alias("ae.IKpiQueryGrain")]
public interface IKpiQueryGrain : IGrainWithIntegerKey
{
    /// <summary>One KPI over a range; a bad request comes back as <see cref="KpiQueryResult.Error"/>, not as an exception.</summary>
    Task<KpiQueryResult> Calculate(KpiQuery query, CancellationToken cancellationToken = default);

    /// <summary>Several queries; each result carries its own error, if any.</summary>
    Task<IReadOnlyList<KpiQueryResult>> CalculateBatch(IReadOnlyList<KpiQuery> queries, CancellationToken cancellationToken = default);

    /// <summary>Every KPI the client has selected, over one range and granularity.</summary>
    Task<IReadOnlyList<KpiQueryResult>> CalculateDashboard(
        string clientId, DateTimeOffset from, DateTimeOffset to, QueryGranularity granularity, CancellationToken cancellationToken = default);
}
