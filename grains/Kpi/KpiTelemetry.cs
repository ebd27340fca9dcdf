using System.Diagnostics.Metrics;

namespace AnalyticsEngine.Kpi;

/// <summary>Computation metrics, under the product's shared meter name.</summary>
internal static class KpiTelemetry
{
    private static readonly Meter Meter = new("AnalyticsEngine");

    public static readonly Counter<long> EventsApplied =
        Meter.CreateCounter<long>("ae.kpi.events_applied", "{event}", "Events applied to client KPI engines from the stream");

    public static readonly Counter<long> EventsCaughtUp =
        Meter.CreateCounter<long>("ae.kpi.events_caught_up", "{event}", "Events read back from the database to fill gaps");

    public static readonly Counter<long> ValuesPublished =
        Meter.CreateCounter<long>("ae.kpi.values_published", "{value}", "Changed KPI values forwarded to watched KPI grains");

    public static readonly Histogram<double> CommitToApplied =
        Meter.CreateHistogram<double>("ae.kpi.commit_to_applied", "ms", "Time from database commit to the event being applied");
}
