using System.Globalization;
using AnalyticsEngine.Catalog;
using AnalyticsEngine.Kpi.Engine;
using AnalyticsEngine.Kpi.Formula;
using AnalyticsEngine.Query;
using NodaTime;

namespace AnalyticsEngine.Kpi.Tests.Query;

/// <summary>
/// Which part of each bucket a query reads from rollup slots and which from raw rows, and which terms have rollups.
/// </summary>
public sealed class RollupPlanningTests
{
    private static readonly int[] Slots = TermRollups.SlotMinutes;

    private static long Ticks(string instant) => TimeTicks.Of(DateTimeOffset.Parse(instant, CultureInfo.InvariantCulture));

    private static long[] Boundaries(string zone, QueryGranularity granularity, string from, string to) =>
        QueryBuckets.Compute(DateTimeZoneProviders.Tzdb[zone], granularity, Ticks(from), Ticks(to), 100_000)!;

    [Fact]
    public void Whole_hours_of_a_zone_on_the_hour_are_one_run_of_hour_slots()
    {
        var boundaries = Boundaries("Europe/Berlin", QueryGranularity.Day, "2026-03-27T00:00:00Z", "2026-03-31T00:00:00Z");

        var ranges = RollupRanges.Split(boundaries, Slots);

        Assert.Equal(new[] { new RollupRanges.SlotRun(60, boundaries[0], boundaries[^1]) }, ranges.Slots);
        Assert.Empty(ranges.Raw);
    }

    [Fact]
    public void Kathmandu_days_start_at_a_quarter_past_so_quarter_hour_slots_fill_their_edges()
    {
        // Nepal is UTC+05:45: a local midnight is 18:15 UTC.
        var boundaries = Boundaries("Asia/Kathmandu", QueryGranularity.Day, "2026-06-01T00:00:00+05:45", "2026-06-03T00:00:00+05:45");

        var ranges = RollupRanges.Split(boundaries, Slots);

        Assert.Empty(ranges.Raw);
        Assert.Equal(
            new[]
            {
                new RollupRanges.SlotRun(15, Ticks("2026-05-31T18:15:00Z"), Ticks("2026-05-31T19:00:00Z")),
                new RollupRanges.SlotRun(60, Ticks("2026-05-31T19:00:00Z"), Ticks("2026-06-01T18:00:00Z")),
                new RollupRanges.SlotRun(15, Ticks("2026-06-01T18:00:00Z"), Ticks("2026-06-01T19:00:00Z")),
            },
            ranges.Slots.Take(3));
        AssertExactCover(boundaries, ranges);
    }

    [Fact]
    public void A_range_with_odd_ends_reads_raw_rows_only_at_the_edges()
    {
        var ranges = RollupRanges.Split([Ticks("2026-06-01T10:07:00Z"), Ticks("2026-06-01T13:52:30Z")], Slots);

        Assert.Equal(
            new[]
            {
                new RollupRanges.SlotRun(15, Ticks("2026-06-01T10:15:00Z"), Ticks("2026-06-01T11:00:00Z")),
                new RollupRanges.SlotRun(60, Ticks("2026-06-01T11:00:00Z"), Ticks("2026-06-01T13:00:00Z")),
                new RollupRanges.SlotRun(15, Ticks("2026-06-01T13:00:00Z"), Ticks("2026-06-01T13:45:00Z")),
            },
            ranges.Slots);
        Assert.Equal(
            new[]
            {
                new RollupRanges.TickRange(Ticks("2026-06-01T10:07:00Z"), Ticks("2026-06-01T10:15:00Z")),
                new RollupRanges.TickRange(Ticks("2026-06-01T13:45:00Z"), Ticks("2026-06-01T13:52:30Z")),
            },
            ranges.Raw);
    }

    [Fact]
    public void Minute_buckets_hold_no_slot_and_are_read_raw_as_one_range()
    {
        var boundaries = Boundaries("America/St_Johns", QueryGranularity.Minute, "2026-06-01T10:00:00Z", "2026-06-01T12:00:00Z");

        var ranges = RollupRanges.Split(boundaries, Slots);

        Assert.Empty(ranges.Slots);
        Assert.Equal(new[] { new RollupRanges.TickRange(boundaries[0], boundaries[^1]) }, ranges.Raw);
    }

    [Theory]
    [InlineData("America/St_Johns", "2026-03-07T00:00:00Z", "2026-03-10T00:00:00Z")] // -03:30, spring forward on 8 March
    [InlineData("America/St_Johns", "2026-10-31T00:00:00Z", "2026-11-03T00:00:00Z")] // fall back on 1 November
    [InlineData("Europe/Berlin", "2026-10-24T00:00:00Z", "2026-10-27T00:00:00Z")]
    [InlineData("Asia/Kathmandu", "2026-01-01T00:00:00Z", "2026-01-09T00:00:00Z")]
    [InlineData("Australia/Lord_Howe", "2026-04-03T00:00:00Z", "2026-04-07T00:00:00Z")] // +10:30/+11, a half-hour DST shift
    [InlineData("Asia/Kolkata", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z")]
    public void Every_bucket_is_covered_exactly_once_and_no_slot_crosses_a_bucket_boundary(string zone, string from, string to)
    {
        foreach (var granularity in new[] { QueryGranularity.Minute, QueryGranularity.Hour, QueryGranularity.Day, QueryGranularity.Week, QueryGranularity.Range })
        {
            var boundaries = Boundaries(zone, granularity, from, to);
            AssertExactCover(boundaries, RollupRanges.Split(boundaries, Slots));
        }
    }

    [Fact]
    public void Sums_counts_minima_and_maxima_of_event_rows_are_rolled_up_distinct_counts_and_snapshots_are_not()
    {
        var models = BuiltInCatalog.ObjectModelsByCode;
        var formula = KpiFormula.Compile(
            "sum(orders.order_value) + count_distinct(orders.carrier) + min(orders.order_value) + sum(licenses.seats_used)", models).Formula!;

        var rollable = formula.Aggregates.Select(t => TermRollups.IsRollable(t, models[t.ObjectModel])).ToArray();

        Assert.Equal(new[] { true, false, true, false }, rollable);
    }

    [Fact]
    public void The_catalog_rolls_up_the_terms_of_its_kpis_with_stable_distinct_ids()
    {
        var orders = TermRollups.ForCatalog["orders"];
        var pof = KpiFormula.Compile(BuiltInCatalog.FindKpi("POF")!.Formula, BuiltInCatalog.ObjectModelsByCode).Formula!;

        Assert.All(pof.Aggregates, t => Assert.Contains(t.StateKey, orders.TermIds.Keys));
        Assert.Equal(orders.Terms.Count, orders.TermIds.Values.Distinct().Count());
        Assert.DoesNotContain(TermRollups.EventsTerm, orders.TermIds.Values);
        Assert.Equal(TermRollups.IdOf("SumCount|orders|1|"), TermRollups.IdOf("SumCount|orders|1|"));
        Assert.NotEqual(TermRollups.IdOf("SumCount|orders|1|"), TermRollups.IdOf("SumCount|orders|1|orders.on_time"));
        Assert.DoesNotContain(TermRollups.ForCatalog.Values, r => r.Model.Kind == ObjectKind.Snapshot);
    }

    [Fact]
    public void A_covered_event_model_reads_rollups_and_raw_edges_an_uncovered_one_reads_raw_rows()
    {
        var models = BuiltInCatalog.ObjectModelsByCode;
        var pof = KpiFormula.Compile(BuiltInCatalog.FindKpi("POF")!.Formula, models).Formula!;
        var ranges = RollupRanges.Split([Ticks("2026-06-01T10:07:00Z"), Ticks("2026-06-01T13:52:30Z")], Slots);
        var covered = pof.Aggregates.Select(t => ("orders", TermRollups.IdOf(t.StateKey))).Append(("orders", TermRollups.EventsTerm)).ToHashSet();

        var rolled = KpiSqlCompiler.Compile(pof, models, null, new RollupSource(ranges, covered));
        var partly = KpiSqlCompiler.Compile(pof, models, null, new RollupSource(ranges, covered.Skip(1).ToHashSet()));
        var drill = KpiSqlCompiler.Compile(pof, models, "carrier", new RollupSource(ranges, covered));

        var mixed = KpiSqlCompiler.Compile(
            KpiFormula.Compile("count(orders) / count(licenses)", models).Formula!, models, null, new RollupSource(ranges, covered));

        Assert.True(rolled.UsesRollups);
        Assert.Contains("query.term_rollups", rolled.Sql, StringComparison.Ordinal);
        Assert.Contains("UNION ALL", rolled.Sql, StringComparison.Ordinal); // the raw edges
        Assert.Empty(rolled.RawRangeModels);
        Assert.False(partly.UsesRollups);
        Assert.DoesNotContain("term_rollups", partly.Sql, StringComparison.Ordinal);
        Assert.Equal(["orders"], partly.RawRangeModels);
        Assert.False(drill.UsesRollups);
        // Only the snapshot object of a mixed formula is read raw over the range (its rows decide the JIT and index choice).
        Assert.True(mixed.UsesRollups);
        Assert.Equal(["licenses"], mixed.RawRangeModels);
    }

    [Fact]
    public void A_drill_down_reads_the_rollups_of_a_dimension_field_they_cover_and_raw_rows_by_any_other_field()
    {
        var models = BuiltInCatalog.ObjectModelsByCode;
        var pof = KpiFormula.Compile(BuiltInCatalog.FindKpi("POF")!.Formula, models).Formula!;
        // Hour slots only, as the runner splits a drill-down's range (TermRollups.SlotMinutesFor).
        var ranges = RollupRanges.Split([Ticks("2026-06-01T10:07:00Z"), Ticks("2026-06-01T13:52:30Z")], TermRollups.DimensionSlotMinutes);
        var withQuarterHours = RollupRanges.Split([Ticks("2026-06-01T10:07:00Z"), Ticks("2026-06-01T13:52:30Z")], Slots);
        var keys = pof.Aggregates.Select(t => t.StateKey).Append(TermRollups.EventsKey).ToArray();
        HashSet<(string, long)> Covering(string? dimension) => keys.Select(k => ("orders", TermRollups.CoverageId(k, dimension))).ToHashSet();
        var covered = Covering(null).Union(Covering("carrier")).ToHashSet();

        var byCarrier = KpiSqlCompiler.Compile(pof, models, "carrier", new RollupSource(ranges, covered));
        // status is a dimension field too, but its rollups do not cover the partition (marked after its first rows).
        var byStatus = KpiSqlCompiler.Compile(pof, models, "status", new RollupSource(ranges, covered));
        // on_time is no dimension field: whatever coverage says, nothing rolls it up.
        var byOnTime = KpiSqlCompiler.Compile(pof, models, "on_time", new RollupSource(ranges, covered.Union(Covering("on_time")).ToHashSet()));
        // Quarter-hour slots are not kept per dimension value: a range split into them reads raw rows.
        var byCarrierInQuarterHours = KpiSqlCompiler.Compile(pof, models, "carrier", new RollupSource(withQuarterHours, covered));

        Assert.Equal(["status", "carrier"], models["orders"].DimensionFields().Select(f => f.Name));
        Assert.Equal(["status", "carrier"], TermRollups.ForCatalog["orders"].Dimensions);
        Assert.True(byCarrier.UsesRollups);
        Assert.Contains("query.dimension_rollups", byCarrier.Sql, StringComparison.Ordinal);
        Assert.DoesNotContain("query.term_rollups", byCarrier.Sql, StringComparison.Ordinal);
        Assert.Contains("UNION ALL", byCarrier.Sql, StringComparison.Ordinal); // the raw edges
        Assert.Contains("carrier", byCarrier.Parameters);
        Assert.Empty(byCarrier.RawRangeModels);
        Assert.False(byStatus.UsesRollups);
        Assert.Equal(["orders"], byStatus.RawRangeModels);
        Assert.False(byOnTime.UsesRollups);
        Assert.Contains(withQuarterHours.Slots, slot => slot.Minutes == 15);
        Assert.False(byCarrierInQuarterHours.UsesRollups);
        Assert.Equal(TermRollups.SlotMinutes, TermRollups.SlotMinutesFor(null));
        Assert.Equal([60], TermRollups.SlotMinutesFor("carrier"));
        // A term's coverage per dimension is apart from its own and from other dimensions'.
        Assert.Equal(TermRollups.EventsTerm, TermRollups.CoverageId(TermRollups.EventsKey, null));
        Assert.Equal(6, keys.SelectMany(k => new[] { TermRollups.CoverageId(k, null), TermRollups.CoverageId(k, "carrier") }).Distinct().Count());
        Assert.NotEqual(TermRollups.CoverageId(keys[0], "carrier"), TermRollups.CoverageId(keys[0], "status"));
    }

    [Theory]
    [InlineData("POF", null)]
    [InlineData("POF", "carrier")]
    [InlineData("OTD", null)]
    public void A_statement_written_before_the_snapshot_is_the_one_its_coverage_gives_when_every_term_is_rolled_up(string kpi, string? dimension)
    {
        var models = BuiltInCatalog.ObjectModelsByCode;
        var formula = KpiFormula.Compile(BuiltInCatalog.FindKpi(kpi)!.Formula, models).Formula!;
        var ranges = RollupRanges.Split([Ticks("2026-06-01T10:07:00Z"), Ticks("2026-06-01T13:52:30Z")], TermRollups.SlotMinutesFor(dimension));
        // The partition's coverage as a roll-up of this release leaves it: every catalog term, in total and per dimension.
        var orders = TermRollups.ForCatalog["orders"];
        var covered = orders.TermIds.Keys.Append(TermRollups.EventsKey)
            .SelectMany(k => orders.Dimensions.Select(d => (string?)d).Prepend(null).Select(d => ("orders", TermRollups.CoverageId(k, d))))
            .ToHashSet();

        var assumed = KpiSqlCompiler.Compile(formula, models, dimension, RollupSource.AssumingCovered(ranges, formula, dimension));
        var fromCoverage = KpiSqlCompiler.Compile(formula, models, dimension, new RollupSource(ranges, covered));

        Assert.True(assumed.UsesRollups);
        Assert.Empty(assumed.RawRangeModels);
        Assert.Equal(fromCoverage.Sql, assumed.Sql);
        Assert.Equal(fromCoverage.Parameters, assumed.Parameters);
    }

    [Fact]
    public void Every_dimension_field_of_the_catalog_can_be_drilled_down_by()
    {
        var dimensions = BuiltInCatalog.ObjectModelsByCode.Values.SelectMany(m => m.DimensionFields().Select(f => (m, f))).ToArray();

        Assert.NotEmpty(dimensions);
        Assert.All(dimensions, d => Assert.True(
            d.f.Type is FieldType.Text or FieldType.Boolean or FieldType.Integer && d.m.Kind == ObjectKind.Event,
            $"{d.m.Code}.{d.f.Name} is a {d.f.Type} field of a {d.m.Kind} object"));
    }

    [Fact]
    public void Raw_rows_are_added_up_per_the_longest_slot_that_divides_every_boundary()
    {
        Assert.Equal(60, TermRollups.SlotDividing(Boundaries("Europe/Berlin", QueryGranularity.Day, "2026-03-27T00:00:00Z", "2026-03-31T00:00:00Z")));
        Assert.Equal(15, TermRollups.SlotDividing(Boundaries("Asia/Kathmandu", QueryGranularity.Day, "2026-06-01T00:00:00+05:45", "2026-06-03T00:00:00+05:45")));
        Assert.Null(TermRollups.SlotDividing(Boundaries("UTC", QueryGranularity.Minute, "2026-06-01T10:00:00Z", "2026-06-01T11:00:00Z")));
        Assert.Null(TermRollups.SlotDividing([Ticks("2026-06-01T10:07:00Z"), Ticks("2026-06-01T13:00:00Z")]));
    }

    [Fact]
    public void Raw_rows_of_terms_that_add_up_are_aggregated_per_slot_before_per_bucket_distinct_counts_directly()
    {
        var models = BuiltInCatalog.ObjectModelsByCode;
        var pof = KpiFormula.Compile(BuiltInCatalog.FindKpi("POF")!.Formula, models).Formula!;
        var distinct = KpiFormula.Compile("count_distinct(orders.carrier) + count(orders)", models).Formula!;

        var slotted = KpiSqlCompiler.Compile(pof, models, null, rawSlotMinutes: 60);
        var drill = KpiSqlCompiler.Compile(pof, models, "carrier", rawSlotMinutes: 15);
        var direct = KpiSqlCompiler.Compile(distinct, models, null, rawSlotMinutes: 60);

        // The slot expression comes from TermRollups.SlotStart, as the table's statistics do (ObjectModelTable); that the
        // planner matches the two (by parse tree) is RawSlotStatisticsTests' part.
        var hourSlot = TermRollups.SlotStart("t.\"ordered_at\"", 60);
        Assert.Contains($"SELECT {hourSlot} AS \"#slot\"", slotted.Sql, StringComparison.Ordinal);
        Assert.Contains("width_bucket(s.\"#slot\", $2)", slotted.Sql, StringComparison.Ordinal);
        Assert.Contains("sum(s.\"#s0_0\") AS \"#s0_0\"", slotted.Sql, StringComparison.Ordinal);
        Assert.Contains(TermRollups.SlotStart("t.\"ordered_at\"", 15), drill.Sql, StringComparison.Ordinal);
        // A drill-down groups slots by the field's own value and encodes it once per slot for the join.
        Assert.Contains("t.\"carrier\" AS \"#dim\"", drill.Sql, StringComparison.Ordinal);
        Assert.Contains("coalesce('=' || s.\"#dim\"::text, '') AS \"#dim\"", drill.Sql, StringComparison.Ordinal);
        Assert.DoesNotContain("coalesce('=' || t.", drill.Sql, StringComparison.Ordinal);
        Assert.DoesNotContain("date_bin", direct.Sql, StringComparison.Ordinal);
        Assert.Contains("width_bucket(t.\"ordered_at\", $2)", direct.Sql, StringComparison.Ordinal);
        Assert.Contains("date_bin(interval '60 minutes', \"ordered_at\"", new Ingest.ObjectModelTable(models["orders"]).CreateTableSql(false), StringComparison.Ordinal);
    }

    /// <summary>Slots and raw ranges tile [first, last boundary) without overlap, and each slot lies inside one bucket.</summary>
    [Fact]
    public void Archived_days_the_rollups_do_not_hold_are_read_raw_inside_buckets_that_read_slots_elsewhere()
    {
        // Weeks in Kolkata (UTC+05:30) over two UTC days read raw: the first week's middle and the next week's start.
        var boundaries = Boundaries("Asia/Kolkata", QueryGranularity.Week, "2026-06-01T00:00:00+05:30", "2026-06-15T00:00:00+05:30");
        RollupRanges.TickRange[] raw =
        [
            new(Ticks("2026-06-03T00:00:00Z"), Ticks("2026-06-04T00:00:00Z")),
            new(Ticks("2026-06-07T00:00:00Z"), Ticks("2026-06-09T00:00:00Z")),
        ];

        var ranges = RollupRanges.Split(boundaries, Slots, raw);

        // The week boundary (7 June 18:30 UTC) splits the second raw range; both halves stay raw and merge again.
        Assert.Equal(raw, ranges.Raw);
        Assert.DoesNotContain(ranges.Slots, s => raw.Any(r => s.From < r.To && r.From < s.To));
        Assert.Contains(ranges.Slots, s => s.From == Ticks("2026-06-04T00:00:00Z"));
        AssertExactCover(boundaries, ranges);
    }

    [Fact]
    public void Raw_ranges_outside_the_buckets_change_nothing()
    {
        var boundaries = Boundaries("UTC", QueryGranularity.Day, "2026-06-01T00:00:00Z", "2026-06-03T00:00:00Z");

        var ranges = RollupRanges.Split(boundaries, Slots, [new(Ticks("2026-05-01T00:00:00Z"), Ticks("2026-06-01T00:00:00Z"))]);

        Assert.Equal(RollupRanges.Split(boundaries, Slots).Slots, ranges.Slots);
        Assert.Empty(ranges.Raw);
    }

    private static void AssertExactCover(long[] boundaries, RollupRanges ranges)
    {
        var pieces = new List<(long From, long To)>();
        foreach (var run in ranges.Slots)
        {
            var length = run.Minutes * TimeSpan.TicksPerMinute;
            Assert.Equal(0, run.From % length);
            Assert.Equal(0, (run.To - run.From) % length);
            for (var slot = run.From; slot < run.To; slot += length)
            {
                var bucket = Array.BinarySearch(boundaries, slot);
                var index = bucket >= 0 ? bucket : ~bucket - 1;
                Assert.True(index >= 0 && index < boundaries.Length - 1 && slot + length <= boundaries[index + 1],
                    $"slot {TimeTicks.ToDateTimeOffset(slot):O} of {run.Minutes} min crosses a bucket boundary");
                pieces.Add((slot, slot + length));
            }
        }

        pieces.AddRange(ranges.Raw.Select(r => (r.From, r.To)));
        pieces.Sort();
        Assert.Equal(boundaries[0], pieces[0].From);
        for (var i = 1; i < pieces.Count; i++)
        {
            Assert.Equal(pieces[i - 1].To, pieces[i].From);
        }

        Assert.Equal(boundaries[^1], pieces[^1].To);
    }
}
