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
    private static readonly DateTimeOffset End = HourStart(DateTimeOffset.UtcNow);

    [Fact]
    public async Task A_roll_up_that_leaves_a_dimension_out_makes_drill_downs_by_it_read_raw_rows_until_a_rebuild()
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

        await InsertOrdersAsync(clientId, 1, 2000);
        await catalog.RebuildAsync(fixture.Database, clientId, CancellationToken.None);
        Assert.True(await ReadsRollupsAsync(byCarrier));

        await InsertOrdersAsync(clientId, 2001, 2400);
        Assert.Equal(400, await withoutDimensions.RollUpAsync(fixture.Database, clientId, CancellationToken.None));
        Assert.False(await ReadsRollupsAsync(byCarrier)); // its rollups miss those 400 rows
        Assert.True(await ReadsRollupsAsync(total)); // the terms' rollups hold them

        // Rolling up by carrier again does not bring those rows back.
        await InsertOrdersAsync(clientId, 2401, 2500);
        Assert.Equal(100, await catalog.RollUpAsync(fixture.Database, clientId, CancellationToken.None));
        Assert.False(await ReadsRollupsAsync(byCarrier));

        await catalog.RebuildAsync(fixture.Database, clientId, CancellationToken.None);
        Assert.True(await ReadsRollupsAsync(byCarrier));
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
        await (model == "orders" ? InsertOrdersAsync(clientId, 1, 1500) : InsertShipmentsAsync(clientId, 1, 1500));
        await rollups.RebuildAsync(fixture.Database, clientId, CancellationToken.None);
        var compiled = KpiFormula.Compile(formula, models).Formula!;
        // Three-hour buckets from 20 past over the data's two days: raw edges and two whole hour slots each.
        var boundaries = Enumerable.Range(0, 17).Select(i => AnalyticsEngine.Kpi.Engine.TimeTicks.Of(End.AddHours(3 * (i - 16)).AddMinutes(-40))).ToArray();
        var covered = rollups.Terms.Select(t => t.StateKey).Append(TermRollups.EventsKey)
            .Select(k => (model, TermRollups.CoverageId(k, dimension))).ToHashSet();

        var plan = KpiSqlCompiler.Compile(compiled, models, dimension,
            new RollupSource(RollupRanges.Split(boundaries, TermRollups.DimensionSlotMinutes), covered));
        var fromRollups = await StatementRowsAsync(plan, clientId, boundaries);
        var fromRawRows = await StatementRowsAsync(KpiSqlCompiler.Compile(compiled, models, dimension), clientId, boundaries);

        Assert.True(plan.UsesRollups);
        Assert.True(fromRawRows.Count >= 30, $"only {fromRawRows.Count} rows: the data does not exercise the statement");
        Assert.Equal(fromRawRows, fromRollups);
    }

    /// <summary>Orders <paramref name="first"/>..<paramref name="last"/>, one every 90 s back from <see cref="End"/> by sequence, carriers in turn (and none).</summary>
    private async Task InsertOrdersAsync(string clientId, int first, int last)
    {
        await ExecuteAsync(
            """
            INSERT INTO scor_data.orders (client_id, sequence, order_id, ordered_at, order_value, promised_at,
                                          on_time, in_full, damage_free, documentation_complete, status, carrier)
            SELECT $1, i, 'dim-' || i, $2 - (i * 97 % 1920) * interval '90 seconds', i % 13 * 4, $2 + interval '2 days',
                   i % 7 <> 0, i % 5 <> 0, true, i % 11 <> 0, 'delivered',
                   (ARRAY['dhl', 'ups', 'fedex', NULL])[i % 4 + 1]
            FROM generate_series($3, $4) AS i
            """, clientId, End.UtcDateTime, first, last);
        await SetPartitionEndAsync(clientId, "orders", last);
    }

    private async Task InsertShipmentsAsync(string clientId, int first, int last)
    {
        await ExecuteAsync(
            """
            INSERT INTO scor_data.shipments (client_id, sequence, shipment_id, order_id, shipped_at, carrier, units, freight_cost, status)
            SELECT $1, i, 'dim-' || i, 'o-' || i, $2 - (i * 97 % 1920) * interval '90 seconds', 'dhl', i % 6, i % 9 * 2.5,
                   (ARRAY['delivered', 'in_transit', 'lost'])[i % 3 + 1]
            FROM generate_series($3, $4) AS i
            """, clientId, End.UtcDateTime, first, last);
        await SetPartitionEndAsync(clientId, "shipments", last);
    }

    private Task SetPartitionEndAsync(string clientId, string model, long end) => ExecuteAsync(
        """
        INSERT INTO ingest.partitions (client_id, object_model, last_sequence) VALUES ($1, $2, $3)
        ON CONFLICT (client_id, object_model) DO UPDATE SET last_sequence = excluded.last_sequence
        """, clientId, model, end);

    private static IReadOnlyDictionary<string, ObjectModelDefinition> Unmarked(IReadOnlyDictionary<string, ObjectModelDefinition> models) =>
        models.ToDictionary(m => m.Key, m => m.Value with { Fields = m.Value.Fields.Select(f => f with { Dimension = false }).ToArray() });

    private static List<string> Flatten(KpiQueryResult result) =>
        result.Series.SelectMany(s => s.Values.Select(v => $"{s.DimensionValue} {v.BucketStart:O} {v.Value} {v.EventCount} {string.Join(" | ", v.Components)}")).ToList();

    /// <summary>The rows of a compiled statement by bucket and dimension value, every column as read.</summary>
    private async Task<Dictionary<string, string>> StatementRowsAsync(KpiSqlPlan plan, string clientId, long[] boundaries)
    {
        await using var connection = await fixture.Database.OpenConnectionAsync();
        await using var command = plan.CreateCommand(connection, clientId, boundaries);
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

    private async Task ExecuteAsync(string sql, params object[] parameters)
    {
        await using var command = fixture.Database.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        await command.ExecuteNonQueryAsync();
    }

    private static DateTimeOffset HourStart(DateTimeOffset at) => new(at.Year, at.Month, at.Day, at.Hour, 0, 0, TimeSpan.Zero);
}
