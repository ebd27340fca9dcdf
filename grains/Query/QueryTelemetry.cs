using System.Diagnostics.Metrics;

namespace AnalyticsEngine.Query;

/// <summary>One-time query metrics, under the product's shared meter name.</summary>
internal static class QueryTelemetry
{
    private static readonly Meter Meter = new("AnalyticsEngine");

    public static readonly Counter<long> CacheHits =
        Meter.CreateCounter<long>("ae.query.cache.hits", "{query}", "One-time queries answered from the result cache");

    public static readonly Counter<long> CacheMisses =
        Meter.CreateCounter<long>("ae.query.cache.misses", "{query}", "One-time queries the result cache did not hold, run in PostgreSQL");

    public static readonly Counter<long> ArchivedRowsNotBack =
        Meter.CreateCounter<long>(
            "ae.query.archived_rows_not_back", "{query}", "Queries over archived days run again over raw rows: their rollups no longer held what the archive left out");

    public static readonly Counter<long> StatementsDropped =
        Meter.CreateCounter<long>(
            "ae.query.statements_dropped", "{statement}", "Statements sent with their snapshot as if the rollups held every row, dropped because they did not");
}
