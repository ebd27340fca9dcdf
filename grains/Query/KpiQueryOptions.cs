namespace AnalyticsEngine.Query;

/// <summary>Limits of one-time queries (configuration section <c>Query</c>).</summary>
public sealed class KpiQueryOptions
{
    /// <summary>A statement running longer is cancelled by PostgreSQL and answered with a timeout error.</summary>
    public TimeSpan StatementTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Most buckets (times dimension values) one answer may have.</summary>
    public int MaxPoints { get; set; } = 10_000;

    /// <summary>Longest range one query may cover.</summary>
    public TimeSpan MaxRange { get; set; } = TimeSpan.FromDays(366 * 5);

    /// <summary>
    /// How long a batch, a dashboard or a scheduled run may go on starting queries; those it has not started by then
    /// are answered with a timeout error, and the others keep their results.
    /// </summary>
    public TimeSpan BatchTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Most points (values of buckets and dimension values) the answers of one batch, dashboard or scheduled run may
    /// hold before it starts no more queries: their answer travels as one message and one response (a point is about
    /// half a kilobyte of JSON, so some 25 MB).
    /// </summary>
    public int MaxBatchPoints { get; set; } = 50_000;

    /// <summary>
    /// Most one-time queries a silo runs at once (<see cref="QueryGate"/>); more wait their turn. Each holds a pooled
    /// connection while it runs, and the ingest commits draw on the same pool (Npgsql's <c>Max Pool Size</c>, 100 by
    /// default).
    /// </summary>
    public int MaxConcurrentQueries { get; set; } = 16;

    /// <summary>Most queries in one batch (a dashboard is limited the same way).</summary>
    public int MaxBatch { get; set; } = 200;

    /// <summary>How long a result stays cached; zero turns the cache off. A new event in what it read replaces it sooner.</summary>
    public TimeSpan CacheDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Read whole slots from the rollup tables where every term is rolled up (off: raw rows only, e.g. to compare).</summary>
    public bool UseRollups { get; set; } = true;

    /// <summary>These options reading raw rows only: for a query over archived days, whose rollups may be gone.</summary>
    public KpiQueryOptions RawRowsOnly()
    {
        var copy = (KpiQueryOptions)MemberwiseClone();
        copy.UseRollups = false;
        return copy;
    }
}
