using AnalyticsEngine.Catalog;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Query;
using BenchmarkDotNet.Attributes;

namespace AnalyticsEngine.Kpi.Benchmarks;

/// <summary>
/// What a query over rollups does in the silo before and around its one round trip, without the database: the
/// query's preparation (the KPI, its formula compiled, the buckets in the client's zone), then its statement written
/// for rollups and bound to a batch command. QueryBench measures the whole query with the database.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ShortInProcess))]
public class QueryPlanningBenchmarks
{
    private static readonly ClientConfig Client = new("bench", "Query planning benchmark", "Europe/Berlin", ["POF"], [], [], 1);
    private static readonly KpiQueryOptions Options = new();
    private KpiQuery _query = null!;

    /// <summary>The range: a day by hour, 30 days by day, a year by day.</summary>
    [Params(1, 30, 365)]
    public int Days { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var end = new DateTimeOffset(2026, 11, 28, 1, 0, 0, TimeSpan.Zero);
        _query = new KpiQuery(Client.ClientId, "POF", end.AddDays(-Days), end, Days == 1 ? QueryGranularity.Hour : QueryGranularity.Day);
    }

    /// <summary>The KPI resolved, its formula compiled and the bucket boundaries computed.</summary>
    [Benchmark]
    public object Prepare() => KpiQueryRunner.Prepare(_query, Client, Options);

    /// <summary>Preparation, then the statement for rollups, as kept (QueryStatements), bound as KpiQueryRunner sends it.</summary>
    [Benchmark]
    public object PrepareAndBind() => Bound(static (formula, rollups, boundaries) =>
        QueryStatements.Compile(formula, null, rollups, TermRollups.SlotDividing(boundaries), rowLimit: null));

    /// <summary>The same with the statement written afresh, as every query did before statements were kept.</summary>
    [Benchmark]
    public object PrepareWriteAndBind() => Bound(static (formula, rollups, boundaries) =>
        KpiSqlCompiler.Compile(formula, BuiltInCatalog.ObjectModelsByCode, null, rollups, TermRollups.SlotDividing(boundaries)));

    private object Bound(Func<Kpi.Formula.CompiledFormula, RollupSource, long[], KpiSqlPlan> statement)
    {
        var prepared = KpiQueryRunner.Prepare(_query, Client, Options);
        var formula = prepared.Formula!;
        var boundaries = prepared.Boundaries!;
        _ = TermRollups.ForClient(Client);
        var ranges = RollupRanges.Split(boundaries, TermRollups.SlotMinutesFor(null));
        var plan = statement(formula, RollupSource.AssumingCovered(ranges, formula, null), boundaries);
        return plan.CreateBatchCommand(Client.ClientId, boundaries, ranges);
    }
}
