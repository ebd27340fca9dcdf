using AnalyticsEngine.Catalog;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Kpi.Formula;
using AnalyticsEngine.Query;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace AnalyticsEngine.Grains.Tests.Query;

/// <summary>
/// Rollups per dimension value: read only while they hold every row (a roll-up that left the dimension out makes
/// drill-downs read raw rows until a rebuild), and equal to raw rows for boolean and integer dimensions too.
/// </summary>
[Collection(KpiClusterCollection.Name)]
public sealed class DimensionRollupTests(KpiClusterFixture fixture)
{
    private static readonly DateTimeOffset End = StoredRows.End;
    private readonly StoredRows _stored = new(fixture.Database);

    [Fact]
    public async Task A_roll_up_that_leaves_a_dimension_out_makes_drill_downs_by_it_read_raw_rows_until_it_is_backfilled()
    {
        var clientId = "dim-" + Guid.NewGuid().ToString("N")[..10];
        var config = new ClientConfig(clientId, "Dimension coverage", "UTC", ["POF"], [], [], 0);
        var byCarrier = new KpiQuery(clientId, "POF", End.AddDays(-2), End, QueryGranularity.Day, "carrier");
        var total = byCarrier with { Dimension = null };
        var catalog = TermRollups.ForCatalog["orders"];
        // The same terms without the rollups per dimension value: as a silo of an earlier release, or the catalog
        // while carrier was not marked as a dimension, would roll up.
        var withoutDimensions = TermRollups.Build(BuiltInCatalog.Kpis, Unmarked(BuiltInCatalog.ObjectModelsByCode))["orders"];
        var (raw, rolled) = (Runner(useRollups: false), Runner(useRollups: true));

        async Task<bool> ReadsRollupsAsync(KpiQuery query)
        {
            var expected = await raw.RunAsync(query, config);
            var actual = await rolled.RunAsync(query, config);
            Assert.Null(actual.Error);
            Assert.Equal(Flatten(expected), Flatten(actual));
            return rolled.LastRunUsedRollups;
        }

        await _stored.OrdersAsync(clientId, 1, 2000);
        await catalog.RebuildAsync(fixture.Database, clientId, TermRollups.EveryRow, CancellationToken.None);
        Assert.True(await ReadsRollupsAsync(byCarrier));

        await _stored.OrdersAsync(clientId, 2001, 2400);
        Assert.Equal(400, (await withoutDimensions.RollUpAsync(fixture.Database, clientId, TermRollups.EveryRow, CancellationToken.None)).Rows);
        Assert.False(await ReadsRollupsAsync(byCarrier)); // its rollups miss those 400 rows
        Assert.True(await ReadsRollupsAsync(total)); // the terms' rollups hold them

        // Rolling up by carrier again does not bring those rows back.
        await _stored.OrdersAsync(clientId, 2401, 2500);
        Assert.Equal(100, (await catalog.RollUpAsync(fixture.Database, clientId, TermRollups.EveryRow, CancellationToken.None)).Rows);
        Assert.False(await ReadsRollupsAsync(byCarrier));
        Assert.True((await catalog.PartitionAsync(fixture.Database, clientId, CancellationToken.None))!.MissesRows);

        // The backfill restarts the rollups per dimension value alone (the terms' in total hold every row), and adds
        // every row to them again, back from the watermark; drill-downs read raw rows until it is through.
        var passes = new List<BackfillPass>();
        do
        {
            passes.Add(await catalog.BackfillAsync(fixture.Database, clientId, 1000, TimeSpan.Zero, CancellationToken.None));
            Assert.True(await ReadsRollupsAsync(total));
            Assert.Equal(passes[^1].Remaining == 0, await ReadsRollupsAsync(byCarrier));
        }
        while (passes[^1].Remaining > 0);

        Assert.Equal([(1000L, 1500L), (1000, 500), (500, 0)], passes.Select(p => (p.Rows, p.Remaining)));
        Assert.Equal(catalog.Dimensions.Count * (catalog.Terms.Count + 1), passes[0].Restarted);
        Assert.False((await catalog.PartitionAsync(fixture.Database, clientId, CancellationToken.None))!.MissesRows);
    }

    [Theory]
    [InlineData("orders", "on_time", "count(orders) filter (where orders.in_full) + sum(orders.order_value) + min(orders.order_value)")] // boolean
    [InlineData("shipments", "units", "sum(shipments.freight_cost) + count(shipments) filter (where shipments.status = 'delivered')")] // integer
    public async Task Boolean_and_integer_dimensions_read_from_rollups_give_the_rows_of_raw_rows(string model, string dimension, string formula)
    {
        var clientId = "dim-" + Guid.NewGuid().ToString("N")[..10];
        var models = BuiltInCatalog.ObjectModelsByCode.ToDictionary(
            m => m.Key,
            m => m.Key == model ? m.Value with { Fields = m.Value.Fields.Select(f => f.Name == dimension ? f with { Dimension = true } : f).ToArray() } : m.Value);
        var kpi = new KpiDefinition("DIM_TEST", "Dimension test", "", formula, "count", KpiDirection.HigherIsBetter, [model], "TEST", "TEST");
        var rollups = TermRollups.Build([kpi], models)[model];
        await (model == "orders" ? _stored.OrdersAsync(clientId, 1, 1500) : _stored.ShipmentsAsync(clientId, 1, 1500));
        await rollups.RebuildAsync(fixture.Database, clientId, TermRollups.EveryRow, CancellationToken.None);
        var compiled = KpiFormula.Compile(formula, models).Formula!;
        // Three-hour buckets from 20 past over the data's two days: raw edges and two whole hour slots each.
        var boundaries = Enumerable.Range(0, 17).Select(i => AnalyticsEngine.Kpi.Engine.TimeTicks.Of(End.AddHours(3 * (i - 16)).AddMinutes(-40))).ToArray();
        var covered = rollups.Terms.Select(t => t.StateKey).Append(TermRollups.EventsKey)
            .Select(k => (model, TermRollups.CoverageId(k, dimension))).ToHashSet();

        var ranges = RollupRanges.Split(boundaries, TermRollups.DimensionSlotMinutes);
        var plan = KpiSqlCompiler.Compile(compiled, models, dimension, new RollupSource(ranges, covered));
        var fromRollups = await StatementRowsAsync(plan, clientId, boundaries, ranges);
        var fromRawRows = await StatementRowsAsync(KpiSqlCompiler.Compile(compiled, models, dimension), clientId, boundaries);

        Assert.True(plan.UsesRollups);
        Assert.True(fromRawRows.Count >= 30, $"only {fromRawRows.Count} rows: the data does not exercise the statement");
        Assert.Equal(fromRawRows, fromRollups);
    }

    internal static IReadOnlyDictionary<string, ObjectModelDefinition> Unmarked(IReadOnlyDictionary<string, ObjectModelDefinition> models) =>
        models.ToDictionary(m => m.Key, m => m.Value with { Fields = m.Value.Fields.Select(f => f with { Dimension = false }).ToArray() });

    internal static List<string> Flatten(KpiQueryResult result) =>
        result.Series.SelectMany(s => s.Values.Select(v => $"{s.DimensionValue} {v.BucketStart:O} {v.Value} {v.EventCount} {string.Join(" | ", v.Components)}")).ToList();

    /// <summary>The rows of a compiled statement by bucket and dimension value, every column as read.</summary>
    private async Task<Dictionary<string, string>> StatementRowsAsync(KpiSqlPlan plan, string clientId, long[] boundaries, RollupRanges? ranges = null)
    {
        await using var connection = await fixture.Database.OpenConnectionAsync();
        await using var command = plan.CreateCommand(connection, clientId, boundaries, ranges);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new Dictionary<string, string>(StringComparer.Ordinal);
        while (await reader.ReadAsync())
        {
            var values = Enumerable.Range(0, reader.FieldCount).Select(i => reader.IsDBNull(i) ? "null" : Convert.ToString(reader.GetValue(i), System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            rows.Add($"{values[0]}/{values[1]}", string.Join(", ", values));
        }

        return rows;
    }

    private KpiQueryRunner Runner(bool useRollups) =>
        new(fixture.Database, new KpiQueryOptions { UseRollups = useRollups, CacheDuration = TimeSpan.Zero }, TimeSpan.FromMinutes(5), NullLogger.Instance);
}
