using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace AnalyticsEngine.Ingest;

/// <summary>Ingest traces and metrics, under the product's shared source and meter names.</summary>
internal static class IngestTelemetry
{
    public static readonly ActivitySource Source = new("AnalyticsEngine");
    private static readonly Meter Meter = new("AnalyticsEngine");

    public static readonly Counter<long> RowsCommitted =
        Meter.CreateCounter<long>("ae.ingest.rows", "{row}", "Rows committed to PostgreSQL");

    public static readonly Counter<long> RowsRolledUp =
        Meter.CreateCounter<long>("ae.ingest.rows_rolled_up", "{row}", "Committed rows added to the query rollups");

    public static readonly Counter<long> RollupRebuilds =
        Meter.CreateCounter<long>("ae.ingest.rollup_rebuilds", "{rebuild}", "Partitions whose rollups were emptied to be rolled up again from their first row");

    public static readonly Histogram<double> CommitDuration =
        Meter.CreateHistogram<double>("ae.ingest.commit.duration", "ms", "Time to validate-free commit one batch (COPY + sequence)");
}
