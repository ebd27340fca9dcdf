using System.Diagnostics.Metrics;

namespace AnalyticsEngine.Archive;

/// <summary>Archival metrics, under the product's shared meter name.</summary>
internal static class ArchiveTelemetry
{
    private static readonly Meter Meter = new("AnalyticsEngine");

    public static readonly Counter<long> RowsArchived =
        Meter.CreateCounter<long>("ae.archive.rows_archived", "{row}", "Rows moved from the active tables into archived segments");

    public static readonly Counter<long> RowsDeleted =
        Meter.CreateCounter<long>("ae.archive.rows_deleted", "{row}", "Rows deleted from the active tables by a policy that archives nothing");

    public static readonly Counter<long> SegmentsRestored =
        Meter.CreateCounter<long>("ae.archive.segments_restored", "{segment}", "Archived segments put back into the active tables for a query or a rebuild");

    public static readonly Counter<long> SegmentsReadThroughRollups =
        Meter.CreateCounter<long>(
            "ae.archive.segments_read_through_rollups", "{segment}", "Archived segments a query read through rollups that hold their rows, leaving them archived");

    public static readonly Counter<long> SegmentsExpired =
        Meter.CreateCounter<long>("ae.archive.segments_expired", "{segment}", "Archived segments deleted at the end of their archive period");

    public static readonly Counter<long> RunFailures =
        Meter.CreateCounter<long>("ae.archive.run_failures", "{run}", "Archival runs that failed (tried again at the next tick)");
}
