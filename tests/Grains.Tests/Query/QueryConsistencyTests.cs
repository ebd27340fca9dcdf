using AnalyticsEngine.Catalog;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Kpi;
using AnalyticsEngine.Kpi.Formula;
using AnalyticsEngine.Query;
using Microsoft.Extensions.Logging.Abstractions;

namespace AnalyticsEngine.Grains.Tests.Query;

/// <summary>
/// One definition, two paths, one answer: for random data (late and out-of-order events, snapshot updates) the
/// value the stream computed for every bucket of every KPI equals what a one-time query computes — from rollups
/// where the terms are rolled up, from raw rows otherwise — and for POF and OTD both equal a hand-written SQL query.
/// </summary>
[Collection(KpiClusterCollection.Name)]
public sealed class QueryConsistencyTests(KpiClusterFixture fixture)
{
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static QueryScenario? _scenario;

    private IKpiQueryGrain Queries => fixture.Client.GetGrain<IKpiQueryGrain>(0);

    private async Task<QueryScenario> ScenarioAsync()
    {
        await Gate.WaitAsync();
        try
        {
            return _scenario ??= await QueryScenario.CreateAsync(fixture.Client, fixture.Database, seed: 20261126);
        }
        finally
        {
            Gate.Release();
        }
    }

    [Theory]
    [InlineData(Granularity.Minute, 1440)]
    [InlineData(Granularity.Hour, 24)]
    [InlineData(Granularity.Day, 3)]
    public async Task Every_bucket_the_stream_computed_equals_the_query_for_every_catalog_and_custom_kpi(Granularity granularity, int buckets)
    {
        var scenario = await ScenarioAsync();
        var stream = fixture.Client.GetGrain<IClientKpiGrain>(scenario.ClientId);
        var mismatches = new List<string>();
        var compared = 0;
        var withValue = 0;
        foreach (var kpi in scenario.Kpis)
        {
            var snapshot = await stream.GetSnapshot(kpi, granularity, buckets);
            Assert.True(snapshot.Recent.Count == buckets, $"{kpi}: the stream has no values (does the KPI compile?)");
            var result = await Queries.Calculate(new KpiQuery(
                scenario.ClientId, kpi, snapshot.Recent[0].BucketStart, snapshot.Recent[^1].BucketEnd, (QueryGranularity)(int)granularity));
            Assert.True(result.Error is null, $"{kpi}: {result.Error}");
            var values = Assert.Single(result.Series).Values;
            Assert.Equal(snapshot.Recent.Count, values.Count);
            for (var i = 0; i < values.Count; i++)
            {
                Compare(kpi, snapshot.Recent[i], values[i], mismatches);
                compared++;
                withValue += values[i].Value is null ? 0 : 1;
            }
        }

        Assert.True(mismatches.Count == 0, $"{mismatches.Count} of {compared} buckets differ:\n" + string.Join("\n", mismatches.Take(25)));
        Assert.True(withValue > compared / 20, $"only {withValue} of {compared} buckets have a value: the data does not exercise the formulas");
    }

    [Theory]
    [InlineData(Granularity.Minute, "minute", 1440)]
    [InlineData(Granularity.Hour, "hour", 24)]
    [InlineData(Granularity.Day, "day", 3)]
    public async Task Pof_and_otd_equal_a_hand_written_sql_query_and_the_stream(Granularity granularity, string unit, int buckets)
    {
        var scenario = await ScenarioAsync();
        var hand = new Dictionary<DateTimeOffset, (long Perfect, long OnTime, long Total)>();
        await using (var command = fixture.Database.CreateCommand(
            """
            SELECT date_trunc($2, ordered_at AT TIME ZONE $3) AT TIME ZONE $3,
                   count(*) FILTER (WHERE on_time AND in_full AND damage_free AND documentation_complete),
                   count(*) FILTER (WHERE on_time),
                   count(*)
            FROM scor_data.orders
            WHERE client_id = $1
            GROUP BY 1
            """))
        {
            command.Parameters.AddWithValue(scenario.ClientId);
            command.Parameters.AddWithValue(unit);
            command.Parameters.AddWithValue(QueryScenario.TimeZone);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                hand[new DateTimeOffset(reader.GetFieldValue<DateTime>(0), TimeSpan.Zero)] = (reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3));
            }
        }

        var stream = fixture.Client.GetGrain<IClientKpiGrain>(scenario.ClientId);
        var matched = 0;
        foreach (var kpi in new[] { "POF", "OTD" })
        {
            var snapshot = await stream.GetSnapshot(kpi, granularity, buckets);
            var result = await Queries.Calculate(new KpiQuery(
                scenario.ClientId, kpi, snapshot.Recent[0].BucketStart, snapshot.Recent[^1].BucketEnd, (QueryGranularity)(int)granularity));
            var values = Assert.Single(result.Series!).Values;
            for (var i = 0; i < values.Count; i++)
            {
                var query = values[i];
                double? expected = null;
                if (hand.TryGetValue(query.BucketStart, out var counts) && counts.Total > 0)
                {
                    expected = 100.0 * (kpi == "POF" ? counts.Perfect : counts.OnTime) / counts.Total;
                    matched++;
                }

                Assert.Equal(expected, query.Value);
                Assert.Equal(counts.Total, query.EventCount);
                Assert.Equal(query.Value, snapshot.Recent[i].Value);
            }
        }

        Assert.Equal(2 * hand.Count, matched);
    }

    [Fact]
    public async Task Rollups_and_raw_rows_give_the_same_answer_for_every_kpi_whole_buckets_and_odd_edges()
    {
        var scenario = await ScenarioAsync();
        var config = (await fixture.Client.GetGrain<IClientConfigGrain>(scenario.ClientId).Get())!;
        var raw = Runner(useRollups: false);
        var rolled = Runner(useRollups: true);
        var now = DateTimeOffset.UtcNow;
        var queries = new[]
        {
            (QueryGranularity.Hour, now.AddHours(-21), now),
            (QueryGranularity.Day, now.AddDays(-2), now),
            (QueryGranularity.Week, now.AddDays(-2), now),
            // Odd minutes and seconds at both ends: raw rows at the edges, 15- and 60-minute slots between.
            (QueryGranularity.Range, now.AddHours(-19).AddMinutes(-7).AddSeconds(-13), now.AddMinutes(-41).AddSeconds(-5)),
        };
        var mismatches = new List<string>();
        var fromRollups = 0;
        var compared = 0;
        foreach (var kpi in scenario.Kpis)
        {
            foreach (var (granularity, from, to) in queries)
            {
                var query = new KpiQuery(scenario.ClientId, kpi, from, to, granularity);
                var expected = await raw.RunAsync(query, config);
                var actual = await rolled.RunAsync(query, config);
                Assert.True(expected.Error is null && actual.Error is null, $"{kpi}: {expected.Error} {actual.Error}");
                Assert.False(raw.LastRunUsedRollups);
                fromRollups += rolled.LastRunUsedRollups ? 1 : 0;
                var expectedValues = Assert.Single(expected.Series).Values;
                var actualValues = Assert.Single(actual.Series).Values;
                Assert.Equal(expectedValues.Count, actualValues.Count);
                for (var i = 0; i < expectedValues.Count; i++)
                {
                    Compare($"{kpi} {granularity}", expectedValues[i], actualValues[i], mismatches);
                    compared++;
                }
            }
        }

        Assert.True(mismatches.Count == 0, $"{mismatches.Count} of {compared} buckets differ (raw, rollups):\n" + string.Join("\n", mismatches.Take(25)));
        // A KPI reads rollups when all its terms over some event object are rolled up (the catalog's, and the client's custom KPIs').
        var expectedFromRollups = queries.Length * scenario.Kpis.Count(kpi => ReadsRollups(config, kpi));
        Assert.True(expectedFromRollups > queries.Length * 30, $"only {expectedFromRollups} queries can read rollups");
        Assert.True(QueryScenario.CustomKpis.Count(k => ReadsRollups(config, k.Code)) >= 4, "too few custom KPIs read rollups");
        Assert.Equal(expectedFromRollups, fromRollups);
    }

    [Fact]
    public async Task Drill_downs_by_a_dimension_field_read_its_rollups_and_give_the_same_answer_as_raw_rows()
    {
        var scenario = await ScenarioAsync();
        var config = (await fixture.Client.GetGrain<IClientConfigGrain>(scenario.ClientId).Get())!;
        var models = BuiltInCatalog.ObjectModelsByCode;
        var raw = Runner(useRollups: false);
        var rolled = Runner(useRollups: true);
        var now = DateTimeOffset.UtcNow;
        var queries = new[]
        {
            // The scenario's zone is at :30 from UTC, so its hours hold no whole hour slot: raw rows.
            (QueryGranularity.Hour, now.AddHours(-21), now),
            // Its days hold whole hour slots between quarter-hour ends, which a drill-down reads raw.
            (QueryGranularity.Day, now.AddDays(-2), now),
            // Odd minutes and seconds at both ends: raw rows at the edges, hour slots between.
            (QueryGranularity.Range, now.AddHours(-19).AddMinutes(-7).AddSeconds(-13), now.AddMinutes(-41).AddSeconds(-5)),
        };
        var drillDowns = (
            from kpi in scenario.Kpis
            let formula = KpiFormula.Compile(ClientKpis.Find(config, kpi)!.Formula, models).Formula!
            where formula.ObjectModels.Count > 0
            // Every dimension field of the KPI's first object that each of its objects can be grouped by.
            from dimension in models[formula.ObjectModels.First()].DimensionFields()
            where KpiSqlCompiler.DimensionProblem(formula, models, dimension.Name) is null
            from q in queries
            select new KpiQuery(scenario.ClientId, kpi, q.Item2, q.Item3, q.Item1, dimension.Name)).ToArray();
        var expectedFromRollups = drillDowns.Count(q => q.Granularity != QueryGranularity.Hour
            && ReadsDimensionRollups(config, KpiFormula.Compile(ClientKpis.Find(config, q.KpiCode)!.Formula, models).Formula!, q.Dimension!));

        // As the scenario left them (the newest rows perhaps not rolled up yet), then with every row rolled up: the
        // second roll-up adds to slots the first one wrote.
        await CompareAsync();
        foreach (var rollups in TermRollups.ForClient(config).Values)
        {
            await rollups.RollUpAsync(fixture.Database, scenario.ClientId, TermRollups.EveryRow, CancellationToken.None);
        }

        await CompareAsync();

        async Task CompareAsync()
        {
            var mismatches = new List<string>();
            var (fromRollups, series, compared) = (0, 0, 0);
            foreach (var query in drillDowns)
            {
                var expected = await raw.RunAsync(query, config);
                var actual = await rolled.RunAsync(query, config);
                var what = $"{query.KpiCode} by {query.Dimension} {query.Granularity}";
                Assert.True(expected.Error is null && actual.Error is null, $"{what}: {expected.Error} {actual.Error}");
                fromRollups += rolled.LastRunUsedRollups ? 1 : 0;
                Assert.Equal(expected.Series.Select(s => s.DimensionValue), actual.Series.Select(s => s.DimensionValue));
                foreach (var (e, a) in expected.Series.Zip(actual.Series))
                {
                    series++;
                    Assert.Equal(e.Values.Count, a.Values.Count);
                    for (var i = 0; i < e.Values.Count; i++)
                    {
                        Compare($"{what} ={e.DimensionValue}", e.Values[i], a.Values[i], mismatches);
                        compared++;
                    }
                }
            }

            Assert.True(mismatches.Count == 0, $"{mismatches.Count} of {compared} buckets differ (raw, rollups):\n" + string.Join("\n", mismatches.Take(25)));
            // Orders by carrier and status, shipments by carrier, returns by reason, ...
            Assert.True(expectedFromRollups >= 40, $"only {expectedFromRollups} of {drillDowns.Length} drill-downs can read rollups");
            Assert.Equal(expectedFromRollups, fromRollups);
            Assert.True(series > 3 * drillDowns.Length, $"only {series} series: the data does not split by the dimensions");
        }
    }

    [Fact]
    public async Task Weeks_months_and_the_whole_range_add_up_the_same_rows_as_days()
    {
        var scenario = await ScenarioAsync();
        var from = DateTimeOffset.UtcNow.AddDays(-3);
        var to = DateTimeOffset.UtcNow.AddMinutes(1);
        var days = await Queries.Calculate(new KpiQuery(scenario.ClientId, "POF", from, to, QueryGranularity.Day));
        var dayCount = Assert.Single(days.Series).Values.Sum(v => v.Components[1].Value!.Value);

        foreach (var granularity in new[] { QueryGranularity.Week, QueryGranularity.Month })
        {
            var coarse = await Queries.Calculate(new KpiQuery(scenario.ClientId, "POF", from, to, granularity));
            Assert.Equal(dayCount, Assert.Single(coarse.Series).Values.Sum(v => v.Components[1].Value!.Value));
        }

        // The range is exactly [from, to): every row of the scenario, each counted once.
        var range = await Queries.Calculate(new KpiQuery(scenario.ClientId, "POF", from, to, QueryGranularity.Range));
        var whole = Assert.Single(Assert.Single(range.Series).Values);
        Assert.Equal(from, whole.BucketStart);
        Assert.Equal(to, whole.BucketEnd);
        Assert.Equal(scenario.LastSequences["orders"], whole.EventCount);
        Assert.Equal(whole.EventCount, whole.Components[1].Value);
        Assert.Contains(whole.AsOf, p => p.ObjectModel == "orders" && p.Sequence == scenario.LastSequences["orders"]);
    }

    [Fact]
    public async Task A_drill_down_splits_each_bucket_by_the_dimension_value()
    {
        var scenario = await ScenarioAsync();
        var from = DateTimeOffset.UtcNow.AddDays(-2);
        var to = DateTimeOffset.UtcNow;
        var total = await Queries.Calculate(new KpiQuery(scenario.ClientId, "OTD", from, to, QueryGranularity.Hour));
        var byCarrier = await Queries.Calculate(new KpiQuery(scenario.ClientId, "OTD", from, to, QueryGranularity.Hour, "carrier"));

        Assert.Null(byCarrier.Error);
        Assert.Contains(byCarrier.Series, s => s.DimensionValue is null); // optional field: rows without a carrier
        Assert.True(byCarrier.Series.Count >= 3);
        var values = Assert.Single(total.Series).Values;
        for (var i = 0; i < values.Count; i++)
        {
            Assert.Equal(values[i].EventCount, byCarrier.Series.Sum(s => s.Values[i].EventCount));
            Assert.Equal(values[i].Components[0].Value, byCarrier.Series.Sum(s => s.Values[i].Components[0].Value));
        }
    }

    [Fact]
    public async Task Bad_requests_come_back_as_errors_that_say_what_is_wrong()
    {
        var scenario = await ScenarioAsync();
        var now = DateTimeOffset.UtcNow;

        var unknownKpi = await Queries.Calculate(new KpiQuery(scenario.ClientId, "NOPE", now.AddDays(-1), now, QueryGranularity.Hour));
        var unknownClient = await Queries.Calculate(new KpiQuery("no-such-client", "POF", now.AddDays(-1), now, QueryGranularity.Hour));
        var inverted = await Queries.Calculate(new KpiQuery(scenario.ClientId, "POF", now, now.AddDays(-1), QueryGranularity.Hour));
        var tooMany = await Queries.Calculate(new KpiQuery(scenario.ClientId, "POF", now.AddDays(-30), now, QueryGranularity.Minute));
        var dimension = await Queries.Calculate(new KpiQuery(scenario.ClientId, "POF", now.AddDays(-1), now, QueryGranularity.Hour, "order_value"));

        Assert.Equal(QueryErrorKind.UnknownKpi, unknownKpi.Error?.Kind);
        Assert.Equal(QueryErrorKind.UnknownClient, unknownClient.Error?.Kind);
        Assert.Equal(QueryErrorKind.InvalidRange, inverted.Error?.Kind);
        Assert.Equal(QueryErrorKind.TooManyPoints, tooMany.Error?.Kind);
        Assert.Equal(QueryErrorKind.InvalidDimension, dimension.Error?.Kind);
        Assert.Contains("more than 10000 points", tooMany.Error!.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("count(orders) filter (where orders.on_time and orders.in_full) + sum(orders.order_value)", "carrier")] // text, with nulls
    [InlineData("count(orders) filter (where orders.damage_free) + avg(orders.order_value)", "on_time")] // boolean
    [InlineData("sum(shipments.freight_cost) + min(shipments.weight_kg) + max(shipments.units)", "units")] // integer
    [InlineData("count(orders) + count(shipments) filter (where shipments.status = 'delivered')", "carrier")] // two objects, joined on the value
    [InlineData("max(orders.order_value) - min(orders.order_value) filter (where orders.status != 'cancelled')", null)]
    public async Task Raw_rows_added_up_per_slot_give_the_statement_the_same_rows_as_per_bucket(string formula, string? dimension)
    {
        var scenario = await ScenarioAsync();
        var models = BuiltInCatalog.ObjectModelsByCode;
        var compiled = KpiFormula.Compile(formula, models).Formula!;
        var now = DateTimeOffset.UtcNow;
        var to = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, 0, 0, TimeSpan.Zero).AddHours(1);
        // Buckets of three hours over the scenario's day: three slots each, so adding up per slot is tested, not passed through.
        var boundaries = Enumerable.Range(0, 9).Select(i => AnalyticsEngine.Kpi.Engine.TimeTicks.Of(to.AddHours(3 * (i - 8)))).ToArray();
        Assert.Equal(60, TermRollups.SlotDividing(boundaries));

        var perSlot = await StatementRowsAsync(KpiSqlCompiler.Compile(compiled, models, dimension, rawSlotMinutes: 60), scenario.ClientId, boundaries);
        var perBucket = await StatementRowsAsync(KpiSqlCompiler.Compile(compiled, models, dimension), scenario.ClientId, boundaries);

        Assert.Equal(perBucket.Keys.Order(), perSlot.Keys.Order());
        Assert.True(perBucket.Count >= (dimension is null ? 7 : 14), $"only {perBucket.Count} rows: the data does not exercise the statement");
        foreach (var (key, expected) in perBucket)
        {
            var actual = perSlot[key];
            for (var i = 0; i < expected.Length; i++)
            {
                // Sums added up per slot first may differ from one sum in the last bits.
                var same = (expected[i], actual[i]) is (double e, double a) ? Math.Abs(e - a) <= 1e-9 * Math.Max(1, Math.Abs(e)) : Equals(expected[i], actual[i]);
                Assert.True(same, $"{key} column {i}: per bucket {expected[i]}, per slot {actual[i]}");
            }
        }
    }

    [Fact]
    public async Task Double_arithmetic_gives_every_kpi_the_same_rows_as_float8_within_its_range()
    {
        var scenario = await ScenarioAsync();
        var models = BuiltInCatalog.ObjectModelsByCode;
        var config = (await fixture.Client.GetGrain<IClientConfigGrain>(scenario.ClientId).Get())!;
        var now = DateTimeOffset.UtcNow;
        var to = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, 0, 0, TimeSpan.Zero).AddHours(1);
        var boundaries = Enumerable.Range(0, 25).Select(i => AnalyticsEngine.Kpi.Engine.TimeTicks.Of(to.AddHours(i - 24))).ToArray();
        var (rows, arithmetic, sums) = (0, 0, 0);
        foreach (var kpi in scenario.Kpis)
        {
            var compiled = KpiFormula.Compile(ClientKpis.Find(config, kpi)!.Formula, models).Formula!;
            var float8 = await StatementRowsAsync(KpiSqlCompiler.Compile(compiled, models, null), scenario.ClientId, boundaries);
            var doublePlan = KpiSqlCompiler.Compile(compiled, models, null, doubleArithmetic: true);
            var doubles = await StatementRowsAsync(doublePlan, scenario.ClientId, boundaries);
            arithmetic += new[] { "query.dadd(", "query.dsub(", "query.dmul(", "query.ddiv(" }.Count(f => doublePlan.Sql.Contains(f, StringComparison.Ordinal));
            sums += doublePlan.Sql.Contains("query.dtotal(", StringComparison.Ordinal) ? 1 : 0;

            Assert.Equal(float8.Keys.Order(), doubles.Keys.Order());
            foreach (var (key, expected) in float8)
            {
                Assert.True(expected.SequenceEqual(doubles[key]), $"{kpi} {key}: float8 {string.Join(", ", expected)}; double arithmetic {string.Join(", ", doubles[key])}");
            }

            rows += float8.Count;
        }

        Assert.True(rows > scenario.Kpis.Count * 5, $"only {rows} rows: the data does not exercise the statements");
        Assert.True(arithmetic >= 3 && sums > 10, $"{arithmetic} kinds of per-row arithmetic and {sums} KPIs with sums: the formulas do not exercise double arithmetic");
    }

    /// <summary>The rows of a compiled statement by bucket and dimension value (the encoded text), every column as read.</summary>
    private async Task<Dictionary<string, object?[]>> StatementRowsAsync(KpiSqlPlan plan, string clientId, long[] boundaries)
    {
        await using var connection = await fixture.Database.OpenConnectionAsync();
        await using var command = plan.CreateCommand(connection, clientId, boundaries);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new Dictionary<string, object?[]>(StringComparer.Ordinal);
        while (await reader.ReadAsync())
        {
            var row = new object?[reader.FieldCount];
            for (var i = 0; i < row.Length; i++)
            {
                row[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            }

            rows.Add($"{row[0]}/{(plan.Sql.Contains("\"#dim\"", StringComparison.Ordinal) ? row[1] : "")}", row);
        }

        return rows;
    }

    /// <summary>Whether a drill-down can read rollups: an object of the KPI has all its terms rolled up, and rolls up per value of the dimension.</summary>
    private static bool ReadsDimensionRollups(ClientConfig config, CompiledFormula formula, string dimension) =>
        formula.ObjectModels.Any(model =>
            TermRollups.ForClient(config).TryGetValue(model, out var rollups)
            && rollups.Dimensions.Contains(dimension)
            && formula.Aggregates.Where(t => t.ObjectModel == model).All(t => rollups.TermIds.ContainsKey(t.StateKey)));

    private static bool ReadsRollups(ClientConfig config, string kpi)
    {
        var formula = KpiFormula.Compile(ClientKpis.Find(config, kpi)!.Formula, BuiltInCatalog.ObjectModelsByCode).Formula!;
        return formula.ObjectModels.Any(model =>
            TermRollups.ForClient(config).TryGetValue(model, out var rollups)
            && formula.Aggregates.Where(t => t.ObjectModel == model).All(t => rollups.TermIds.ContainsKey(t.StateKey)));
    }

    private KpiQueryRunner Runner(bool useRollups) =>
        new(fixture.Database, new KpiQueryOptions { UseRollups = useRollups }, TimeSpan.FromMinutes(5), NullLogger.Instance);

    internal static void Compare(string kpi, KpiValue streamed, KpiValue queried, List<string> mismatches)
    {
        var where = $"{kpi} [{streamed.BucketStart:O}, {streamed.BucketEnd:O})";
        void Check<T>(string what, T expected, T actual)
        {
            if (!EqualityComparer<T>.Default.Equals(expected, actual))
            {
                mismatches.Add($"{where} {what}: stream {expected}, query {actual}");
            }
        }

        Check("start", streamed.BucketStart, queried.BucketStart);
        Check("end", streamed.BucketEnd, queried.BucketEnd);
        Check("value", streamed.Value, queried.Value);
        Check("reason", streamed.NoValueReason, queried.NoValueReason);
        Check("events", streamed.EventCount, queried.EventCount);
        Check("newest", streamed.NewestEventTime, queried.NewestEventTime);
        Check("components", string.Join(" | ", streamed.Components), string.Join(" | ", queried.Components));
        Check("as-of", string.Join(" | ", streamed.AsOf), string.Join(" | ", queried.AsOf));

        // Finality flips with the clock; compare it only away from the moment it flips.
        var lateness = TimeSpan.FromMinutes(5);
        var sinceFinal = DateTimeOffset.UtcNow - (streamed.BucketEnd + lateness);
        if (sinceFinal.Duration() > TimeSpan.FromMinutes(1))
        {
            Check("final", streamed.IsFinal, queried.IsFinal);
        }
    }
}
