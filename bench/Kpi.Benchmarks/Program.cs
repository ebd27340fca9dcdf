using AnalyticsEngine.Kpi.Benchmarks;
using AnalyticsEngine.Kpi.Engine;
using BenchmarkDotNet.Running;
using Microsoft.Extensions.DependencyInjection;
using NodaTime;
using Orleans.Serialization;

// Figure 1: bytes of checkpointed state per KPI with 48 hours of minute buckets (every minute holds events).
var serializer = new ServiceCollection().AddSerializer().BuildServiceProvider().GetRequiredService<Serializer>();
var engine = new ClientKpiEngine("state", DateTimeZoneProviders.Tzdb["America/New_York"], Workload.Kpis, Workload.Models, new KpiEngineOptions());
var rows = Workload.Rows(perModel: 48 * 60 * 4, span: TimeSpan.FromHours(48), batchSize: 500);
foreach (var (model, batches) in rows)
{
    foreach (var batch in batches)
    {
        engine.Apply(model, batch);
    }
}

var end = Instant.FromDateTimeOffset(Workload.Start.AddHours(48));
engine.AdvanceTime(end);
var bytes = serializer.SerializeToArray(engine.Export()).Length;
Console.WriteLine($"State: {engine.KpiCodes.Count} KPIs, {engine.TermCount} shared terms, 48 h of minute buckets (+ hour and day buckets): " +
    $"{bytes:N0} bytes serialized = {bytes / engine.KpiCodes.Count:N0} bytes per KPI");

// Figure 2: events per second and allocations per event (BenchmarkDotNet, short run).
var summaries = BenchmarkSwitcher.FromAssembly(typeof(Workload).Assembly).Run(args);
foreach (var report in summaries.SelectMany(s => s.Reports))
{
    if (report.ResultStatistics is { } statistics)
    {
        var allocated = report.GcStats.GetBytesAllocatedPerOperation(report.BenchmarkCase);
        Console.WriteLine($"{report.BenchmarkCase.Descriptor.WorkloadMethod.Name} ({report.BenchmarkCase.Parameters.PrintInfo}): median {statistics.Median:N1} ns/event = " +
            $"{1e9 / statistics.Median:N0} events/s on one core, {allocated?.ToString("N1", System.Globalization.CultureInfo.InvariantCulture) ?? "?"} bytes allocated/event");
    }
}
