using AnalyticsEngine.Ingest;
using AnalyticsEngine.Kpi.Engine;
using BenchmarkDotNet.Attributes;
using NodaTime;

namespace AnalyticsEngine.Kpi.Benchmarks;

/// <summary>
/// Events through <see cref="ClientKpiEngine"/> for one client with 20 KPIs over 3 object models, on one thread.
/// Each operation is one event; allocations are per event, bucket creation included.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ShortInProcess))]
public class EngineBenchmarks
{
    private const int PerModel = 100_000;
    private const int Events = PerModel * 3;
    private static readonly DateTimeZone Zone = DateTimeZoneProviders.Tzdb["America/New_York"];

    private Dictionary<string, EventRow[][]> _rows = [];
    private readonly List<KpiValue> _changes = new(4096);

    [Params(100)]
    public int BatchSize { get; set; }

    /// <summary>How far event times stray from arrival order: 3 s (nearly ordered) or 120 s (late rows across minute buckets).</summary>
    [Params(3, 120)]
    public int JitterSeconds { get; set; }

    [GlobalSetup]
    public void Setup() => _rows = Workload.Rows(PerModel, TimeSpan.FromHours(1), BatchSize, JitterSeconds);

    /// <summary>Apply only: the hot path, batches interleaved across the three object models like a client's stream.</summary>
    [Benchmark(OperationsPerInvoke = Events)]
    public long Apply()
    {
        var engine = new ClientKpiEngine("bench", Zone, Workload.Kpis, Workload.Models, new KpiEngineOptions());
        var batches = _rows["orders"].Length;
        for (var b = 0; b < batches; b++)
        {
            engine.Apply("orders", _rows["orders"][b]);
            engine.Apply("invoices", _rows["invoices"][b]);
            engine.Apply("time_logs", _rows["time_logs"][b]);
        }

        return engine.Position("orders");
    }

    /// <summary>Apply and publish every 30 batches (≈ 9,000 events), all KPIs watched, as a grain's publish tick would.</summary>
    [Benchmark(OperationsPerInvoke = Events)]
    public long ApplyAndDrain()
    {
        var engine = new ClientKpiEngine("bench", Zone, Workload.Kpis, Workload.Models, new KpiEngineOptions());
        var batches = _rows["orders"].Length;
        var published = 0L;
        for (var b = 0; b < batches; b++)
        {
            engine.Apply("orders", _rows["orders"][b]);
            engine.Apply("invoices", _rows["invoices"][b]);
            engine.Apply("time_logs", _rows["time_logs"][b]);
            if (b % 30 == 29)
            {
                _changes.Clear();
                published += engine.DrainChanges(static _ => true, _changes, Instant.FromDateTimeOffset(_rows["orders"][b][^1].EventTime));
            }
        }

        return published;
    }
}
