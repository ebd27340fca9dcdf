using System.Globalization;
using AnalyticsEngine.Catalog;
using AnalyticsEngine.Kpi.Engine;
using AnalyticsEngine.Kpi.Formula;
using AnalyticsEngine.Query;
using Npgsql;

namespace AnalyticsEngine.Kpi.Tests.Query;

/// <summary>
/// The query path's kept statements: one per shape whatever the range, bound with each query's own slots and edges,
/// and the same statement the compiler writes for that range.
/// </summary>
public sealed class QueryStatementsTests
{
    private static readonly CompiledFormula Pof = QueryFormulas.Compile(BuiltInCatalog.FindKpi("POF")!.Formula).Formula!;

    private static long Ticks(string instant) => TimeTicks.Of(DateTimeOffset.Parse(instant, CultureInfo.InvariantCulture));

    /// <summary>Hourly buckets from <paramref name="from"/> for <paramref name="hours"/> hours.</summary>
    private static long[] Hourly(string from, int hours) =>
        Enumerable.Range(0, hours + 1).Select(h => Ticks(from) + h * TimeSpan.TicksPerHour).ToArray();

    private static RollupSource Rollups(long[] boundaries, string? dimension = null) =>
        RollupSource.AssumingCovered(RollupRanges.Split(boundaries, TermRollups.SlotMinutesFor(dimension)), Pof, dimension);

    [Fact]
    public void One_statement_serves_every_range_of_a_shape_and_is_bound_with_each_range_s_own_slots_and_edges()
    {
        var day = Hourly("2026-06-01T00:07:00Z", 24);
        var week = Hourly("2026-05-20T10:07:00Z", 24 * 7);
        var (dayRollups, weekRollups) = (Rollups(day), Rollups(week));

        var forDay = QueryStatements.Compile(Pof, null, dayRollups, rawSlotMinutes: null, rowLimit: null);
        var forWeek = QueryStatements.Compile(Pof, null, weekRollups, rawSlotMinutes: null, rowLimit: null);

        Assert.Same(forDay, forWeek);
        Assert.Equal(KpiSqlCompiler.Compile(Pof, BuiltInCatalog.ObjectModelsByCode, null, weekRollups).Sql, forWeek.Sql);
        Assert.Equal(SlotStarts(dayRollups.Ranges), SlotStarts(forDay.CreateBatchCommand("c", day, dayRollups.Ranges)));
        Assert.Equal(SlotStarts(weekRollups.Ranges), SlotStarts(forWeek.CreateBatchCommand("c", week, weekRollups.Ranges)));
        Assert.NotEqual(SlotStarts(dayRollups.Ranges), SlotStarts(weekRollups.Ranges));
    }

    [Fact]
    public void Each_shape_has_a_statement_of_its_own_as_the_compiler_writes_it()
    {
        var withEdges = Hourly("2026-06-01T00:07:00Z", 24);
        var wholeHours = Hourly("2026-06-01T00:00:00Z", 24);
        // A drill-down reads hour slots only: one bucket holding a few.
        long[] drilled = [Ticks("2026-06-01T10:07:00Z"), Ticks("2026-06-01T13:52:30Z")];
        var shapes = new (RollupSource? Rollups, string? Dimension, int? RowLimit)[]
        {
            (Rollups(withEdges), null, null),
            (Rollups(wholeHours), null, null),
            (Rollups(wholeHours) with { RolledUpToTheEnd = new HashSet<string> { "orders" } }, null, null),
            (null, null, null),
            (Rollups(drilled, "carrier"), "carrier", 1001),
            (null, "carrier", 1001),
        };

        var statements = shapes.Select(s => QueryStatements.Compile(Pof, s.Dimension, s.Rollups, rawSlotMinutes: null, s.RowLimit)).ToArray();

        Assert.Equal([true, true, true, false, true, false], statements.Select(s => s.UsesRollups));
        Assert.Contains("ingest.partitions", statements[1].Sql, StringComparison.Ordinal);
        Assert.DoesNotContain("ingest.partitions", statements[2].Sql, StringComparison.Ordinal);
        Assert.Equal(shapes.Length, statements.Select(s => s.Sql).Distinct().Count());
        for (var i = 0; i < shapes.Length; i++)
        {
            var (rollups, dimension, rowLimit) = shapes[i];
            Assert.Equal(KpiSqlCompiler.Compile(Pof, BuiltInCatalog.ObjectModelsByCode, dimension, rollups, rowLimit: rowLimit).Sql, statements[i].Sql);
        }
    }

    [Fact]
    public void A_statement_over_rollups_is_not_bound_without_the_query_s_ranges()
    {
        var day = Hourly("2026-06-01T00:00:00Z", 24);
        var statement = QueryStatements.Compile(Pof, null, Rollups(day), rawSlotMinutes: null, rowLimit: null);

        Assert.True(statement.UsesRollups);
        Assert.Throws<InvalidOperationException>(() => statement.CreateBatchCommand("c", day));
    }

    [Fact]
    public void No_more_statements_are_kept_than_the_bound()
    {
        for (var i = 0; i <= QueryStatements.MaxKept + 10; i++)
        {
            QueryStatements.Compile(Pof, null, null, rawSlotMinutes: null, rowLimit: i);
        }

        Assert.InRange(QueryStatements.Count, 1, QueryStatements.MaxKept);
    }

    private static DateTime[] SlotStarts(RollupRanges ranges) =>
        ranges.Slots.Select(s => DateTime.UnixEpoch.AddTicks(s.From)).ToArray();

    /// <summary>The bound value of the statement's slot starts (the parameter after the slot lengths).</summary>
    private static DateTime[] SlotStarts(NpgsqlBatchCommand command)
    {
        var minutes = command.Parameters.Select((p, i) => (p, i)).Single(x => x.p.Value is int[]).i;
        return (DateTime[])command.Parameters[minutes + 1].Value!;
    }
}
