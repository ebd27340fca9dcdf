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

// Figure 2: events per CPU-second of this thread — unlike wall-clock time, not inflated when other processes
// compete for the cores (BenchmarkDotNet's wall-clock figures follow).
var cpuRows = Workload.Rows(perModel: 100_000, span: TimeSpan.FromHours(1), batchSize: 100);
for (var round = 0; round < 4; round++)
{
    var cpuEngine = new ClientKpiEngine("cpu", DateTimeZoneProviders.Tzdb["America/New_York"], Workload.Kpis, Workload.Models, new KpiEngineOptions());
    var cpuBefore = ThreadCpu.Now();
    var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
    for (var b = 0; b < cpuRows["orders"].Length; b++)
    {
        cpuEngine.Apply("orders", cpuRows["orders"][b]);
        cpuEngine.Apply("invoices", cpuRows["invoices"][b]);
        cpuEngine.Apply("time_logs", cpuRows["time_logs"][b]);
    }

    var cpu = ThreadCpu.Now() - cpuBefore;
    var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
    if (round > 0)
    {
        Console.WriteLine($"CPU time: 300,000 events in {cpu.TotalMilliseconds:N0} ms of thread CPU = {300_000 / cpu.TotalSeconds:N0} events per CPU-second, " +
            $"{allocated / 300_000.0:N1} bytes allocated/event (engine setup and new buckets included)");
    }
}

// Figure 3: events per second and allocations per event (BenchmarkDotNet, short run).
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

/// <summary>CPU time consumed by the calling thread (Linux CLOCK_THREAD_CPUTIME_ID; process time elsewhere).</summary>
internal static class ThreadCpu
{
    public static TimeSpan Now()
    {
        if (OperatingSystem.IsLinux() && ClockGetTime(3, out var time) == 0)
        {
            return TimeSpan.FromTicks((time.Seconds * TimeSpan.TicksPerSecond) + (time.Nanoseconds / 100));
        }

        return System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "clock_gettime")]
    [System.Runtime.InteropServices.DefaultDllImportSearchPaths(System.Runtime.InteropServices.DllImportSearchPath.SafeDirectories)]
    private static extern int ClockGetTime(int clock, out TimeSpec time);

    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}
