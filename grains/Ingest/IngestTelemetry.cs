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

    public static readonly Counter<long> RollupBackfills =
        Meter.CreateCounter<long>("ae.ingest.rollup_backfills", "{backfill}", "Partitions found with rollup terms or dimensions that miss rows, and backfilled");

    public static readonly Counter<long> RowsBackfilled =
        Meter.CreateCounter<long>("ae.ingest.rows_backfilled", "{row}", "Rolled-up rows added to the rollups of terms or dimensions that missed them");

    public static readonly Counter<long> RollupRestarts =
        Meter.CreateCounter<long>("ae.ingest.rollup_restarts", "{coverage}", "Rollups of a term or dimension deleted to be backfilled afresh, since a roll-up left them out");

    public static readonly Counter<long> RollupTermsLeftOut =
        Meter.CreateCounter<long>("ae.ingest.rollup_terms_left_out", "{term}", "Terms a partition's roll-ups leave out because rolling them up failed over some row (a value past float8's range, say)");

    public static readonly Counter<long> RollupsDropped =
        Meter.CreateCounter<long>("ae.ingest.rollups_dropped", "{coverage}", "Rollups of a term or dimension deleted since no release has written them for a while");

    public static readonly Histogram<double> CommitDuration =
        Meter.CreateHistogram<double>("ae.ingest.commit.duration", "ms", "Time to validate-free commit one batch (COPY + sequence)");
}
