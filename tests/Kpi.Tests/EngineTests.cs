using AnalyticsEngine.Ingest;
using AnalyticsEngine.Kpi.Engine;
using NodaTime;

namespace AnalyticsEngine.Kpi.Tests;

public class EngineTests
{
    private static readonly DateTimeZone Utc = DateTimeZone.Utc;
    private static readonly DateTimeOffset T0 = new(2026, 6, 10, 12, 0, 0, TimeSpan.Zero);

    private const string Pof = "100 * count(orders) filter (where orders.on_time and orders.in_full) / count(orders)";

    private static ClientKpiEngine Engine(params (string Code, string Formula)[] kpis) =>
        new("client-7", Utc, kpis.Select(k => TestModels.Kpi(k.Code, k.Formula)).ToList(), TestModels.All, new KpiEngineOptions());

    private static Instant At(DateTimeOffset time) => Instant.FromDateTimeOffset(time);

    private static KpiValue Minute(ClientKpiEngine engine, string code, DateTimeOffset now) =>
        engine.Snapshot(code, Granularity.Minute, 1, At(now)).Current!;

    [Fact]
    public void Perfect_order_fulfillment_updates_per_event()
    {
        var engine = Engine(("POF", Pof));
        engine.Apply("orders", [TestModels.Order(1, T0.AddSeconds(1), onTime: true, inFull: true), TestModels.Order(2, T0.AddSeconds(2), onTime: true, inFull: false)]);
        var value = Minute(engine, "POF", T0.AddSeconds(30));
        Assert.Equal(50, value.Value);
        Assert.Null(value.NoValueReason);
        Assert.Equal(2, value.EventCount);
        Assert.Equal(2, value.Revision);
        Assert.Equal(T0, value.BucketStart);
        Assert.Equal(T0.AddMinutes(1), value.BucketEnd);
        Assert.Equal(T0.AddSeconds(2), value.NewestEventTime);
        Assert.Equal([new SourcePosition("orders", 2)], value.AsOf);
        Assert.Equal("client-7", value.ClientId);
        Assert.Equal(
            [new KpiComponent("count(orders) filter (where orders.on_time and orders.in_full)", 1), new KpiComponent("count(orders)", 2)],
            value.Components);
    }

    [Fact]
    public void The_same_rows_give_the_same_revisions_however_they_are_batched()
    {
        // A grain that crashed replays rows from the database in other batches than they first arrived in;
        // clients compare revisions, so those must depend on the rows alone.
        (string, string)[] kpis = [("POF", Pof), ("USED", "sum(licenses.seats_used)")];
        var orders = Enumerable.Range(1, 40).Select(i => TestModels.Order(i, T0.AddSeconds(i * 7), onTime: i % 3 != 0, inFull: i % 5 != 0)).ToList();
        var licenses = Enumerable.Range(1, 12).Select(i => TestModels.License(i, T0.AddSeconds(i * 23), $"L{i % 4}", 10, i % 10)).ToList();
        var together = Engine(kpis);
        together.Apply("orders", orders);
        together.Apply("licenses", licenses);
        var oneByOne = Engine(kpis);
        for (var i = 0; i < orders.Count; i++)
        {
            oneByOne.Apply("orders", [orders[i]]);
            if (i < licenses.Count)
            {
                oneByOne.Apply("licenses", [licenses[i]]);
            }
        }

        var now = At(T0.AddMinutes(6));
        foreach (var code in new[] { "POF", "USED" })
        {
            var expected = together.Snapshot(code, Granularity.Minute, 8, now).Recent;
            var actual = oneByOne.Snapshot(code, Granularity.Minute, 8, now).Recent;
            Assert.Equal(expected.Select(v => (v.BucketStart, v.Value, v.Revision)), actual.Select(v => (v.BucketStart, v.Value, v.Revision)));
            Assert.Contains(expected, v => v.Revision > 1);
        }
    }

    [Fact]
    public void An_empty_bucket_has_count_zero_and_no_value_for_zero_over_zero()
    {
        var engine = Engine(("POF", Pof), ("N", "count(orders)"));
        var pof = Minute(engine, "POF", T0);
        Assert.Null(pof.Value);
        Assert.Equal("division by zero: count(orders) is 0", pof.NoValueReason);
        Assert.Equal(0, pof.EventCount);
        Assert.Equal(0, Minute(engine, "N", T0).Value);
    }

    [Fact]
    public void Duplicates_are_applied_once_and_gaps_throw_without_applying_anything()
    {
        var engine = Engine(("N", "count(orders)"));
        var rows = Enumerable.Range(1, 5).Select(i => TestModels.Order(i, T0.AddSeconds(i))).ToList();
        engine.Apply("orders", rows.Take(3).ToList());
        engine.Apply("orders", rows.Take(3).ToList());
        engine.Apply("orders", rows.Skip(1).ToList()); // overlaps: 2 and 3 again, then 4 and 5
        Assert.Equal(5, engine.Position("orders"));
        Assert.Equal(5, Minute(engine, "N", T0).Value);

        var gap = new List<EventRow> { TestModels.Order(6, T0), TestModels.Order(8, T0) };
        var error = Assert.Throws<InvalidOperationException>(() => engine.Apply("orders", gap));
        Assert.Contains("expected sequence 7", error.Message, StringComparison.Ordinal);
        Assert.Equal(5, engine.Position("orders"));
        Assert.Equal(5, Minute(engine, "N", T0).Value);
    }

    [Fact]
    public void Rows_of_models_no_kpi_reads_still_advance_the_position()
    {
        var engine = Engine(("N", "count(orders)"));
        engine.Apply("invoices", [TestModels.InvoicesLayout.CreateRow(1, T0, new Dictionary<string, object?>())]);
        Assert.Equal(1, engine.Position("invoices"));
        Assert.Equal(["orders"], engine.ObjectModels);
        Assert.Equal(0, engine.Position("time_logs"));
    }

    [Fact]
    public void Late_event_updates_its_own_bucket_and_bumps_its_revision()
    {
        var engine = Engine(("S", "sum(orders.value)"));
        engine.Apply("orders", [TestModels.Order(1, T0.AddMinutes(10), value: 5)]);
        var changes = new List<KpiValue>();
        engine.DrainChanges(_ => true, changes, At(T0.AddMinutes(11)));
        Assert.Equal(3, changes.Count); // minute, hour, day

        engine.Apply("orders", [TestModels.Order(2, T0.AddMinutes(2), value: 7)]);
        engine.Apply("orders", [TestModels.Order(3, T0.AddMinutes(2).AddSeconds(5), value: 1)]);
        changes.Clear();
        engine.DrainChanges(_ => true, changes, At(T0.AddMinutes(11)));
        var minute = Assert.Single(changes, c => c.Granularity == Granularity.Minute);
        Assert.Equal(T0.AddMinutes(2), minute.BucketStart);
        Assert.Equal(8, minute.Value);
        Assert.Equal(2, minute.Revision); // two Apply calls changed it
        Assert.True(minute.IsFinal); // 12:03 + 5 min lateness is before 12:11: a correction after finalisation
        var hour = Assert.Single(changes, c => c.Granularity == Granularity.Hour);
        Assert.Equal(13, hour.Value);
        Assert.Equal(3, hour.Revision);
    }

    [Fact]
    public void Buckets_become_final_after_the_lateness_and_later_corrections_are_still_published()
    {
        var engine = Engine(("N", "count(orders)"));
        engine.Apply("orders", [TestModels.Order(1, T0.AddSeconds(10))]);
        engine.DrainChanges(_ => true, [], At(T0.AddSeconds(20)));

        engine.AdvanceTime(At(T0.AddMinutes(6)));
        var changes = new List<KpiValue>();
        engine.DrainChanges(_ => true, changes, At(T0.AddMinutes(6)));
        var final = Assert.Single(changes);
        Assert.True(final.IsFinal);
        Assert.Equal(Granularity.Minute, final.Granularity);
        Assert.Equal(1, final.Revision);

        engine.Apply("orders", [TestModels.Order(2, T0.AddSeconds(30))]);
        changes.Clear();
        engine.DrainChanges(_ => true, changes, At(T0.AddMinutes(7)));
        var corrected = Assert.Single(changes, c => c.Granularity == Granularity.Minute);
        Assert.True(corrected.IsFinal);
        Assert.Equal(2, corrected.Value);
        Assert.Equal(2, corrected.Revision);
    }

    [Fact]
    public void Unwatched_kpis_are_not_published_but_their_changes_are_cleared()
    {
        var engine = Engine(("A", "count(orders)"), ("B", "sum(orders.value)"));
        engine.Apply("orders", [TestModels.Order(1, T0, value: 3)]);
        var changes = new List<KpiValue>();
        Assert.Equal(3, engine.DrainChanges(code => code == "B", changes, At(T0)));
        Assert.All(changes, c => Assert.Equal("B", c.KpiCode));
        changes.Clear();
        Assert.Equal(0, engine.DrainChanges(_ => true, changes, At(T0)));
        Assert.Equal(1, Minute(engine, "A", T0).Value); // state is kept all the same
    }

    [Fact]
    public void Shared_terms_are_computed_once()
    {
        var engine = Engine(
            ("POF", Pof),
            ("OTD", "100 * count(orders) filter (where orders.on_time) / count(orders)"),
            ("AOV", "sum(orders.value) / count(orders.value)"),
            ("AVG", "avg(orders.value)"));
        // count(orders) [shared by 2], count filter on_time and in_full, count filter on_time, sum/count/avg of value [shared by 3].
        Assert.Equal(4, engine.TermCount);
        engine.Apply("orders", [TestModels.Order(1, T0, value: 4, onTime: true), TestModels.Order(2, T0, value: 8, onTime: false)]);
        Assert.Equal(6, Minute(engine, "AOV", T0).Value);
        Assert.Equal(6, Minute(engine, "AVG", T0).Value);
        Assert.Equal(50, Minute(engine, "OTD", T0).Value);
    }

    [Fact]
    public void Kpis_that_do_not_compile_are_listed_and_left_out()
    {
        var engine = Engine(("GOOD", "count(orders)"), ("BAD", "sum(orders.nope)"), ("GOOD", "count(invoices)"));
        Assert.Equal(["GOOD"], engine.KpiCodes);
        Assert.Equal(["BAD", "GOOD"], engine.Errors.Select(e => e.KpiCode));
        Assert.Equal(12, engine.Errors[0].Errors[0].Column);
        Assert.Throws<KeyNotFoundException>(() => engine.Snapshot("BAD", Granularity.Minute, 1, At(T0)));
    }

    [Fact]
    public void Snapshot_objects_count_each_keys_latest_row_and_updates_replace_contributions()
    {
        var engine = Engine(("UTIL", "100 * sum(licenses.seats_used) / sum(licenses.seats_purchased)"), ("MAXUSED", "max(licenses.seats_used)"));
        engine.Apply("licenses",
        [
            TestModels.License(1, T0.AddMinutes(1), "L1", purchased: 10, used: 9),
            TestModels.License(2, T0.AddMinutes(1), "L2", purchased: 10, used: 5),
        ]);
        Assert.Equal(70, Minute(engine, "UTIL", T0.AddMinutes(1)).Value);

        // L1 shrinks at minute 3: minutes 1-2 keep the old state, minute 3 on sees the new one.
        engine.Apply("licenses", [TestModels.License(3, T0.AddMinutes(3), "L1", purchased: 10, used: 1)]);
        var series = engine.Snapshot("MAXUSED", Granularity.Minute, 5, At(T0.AddMinutes(4)));
        Assert.Equal([null, 9, 9, 5, 5], series.Recent.Select(v => v.Value));
        Assert.Equal([0L, 2, 0, 1, 0], series.Recent.Select(v => v.EventCount));
        Assert.Equal(30, Minute(engine, "UTIL", T0.AddMinutes(4)).Value);

        // A late row for L2 at minute 2 changes minutes 2 and later, not minute 1.
        engine.Apply("licenses", [TestModels.License(4, T0.AddMinutes(2), "L2", purchased: 20, used: 20)]);
        var after = engine.Snapshot("MAXUSED", Granularity.Minute, 5, At(T0.AddMinutes(4)));
        Assert.Equal([null, 9, 20, 20, 20], after.Recent.Select(v => v.Value));
        Assert.True(after.Recent[4].Revision > series.Recent[4].Revision);
        Assert.Equal(after.Recent[2].Value, engine.Window("MAXUSED", KpiWindow.LastMinutes(3), At(T0.AddMinutes(2))).Value);
    }

    [Fact]
    public void A_late_snapshot_row_is_seen_by_the_next_read_of_any_later_bucket()
    {
        var engine = Engine(("USED", "sum(licenses.seats_used)"));
        engine.Apply("licenses", [TestModels.License(1, T0, "L1", 10, 1)]);
        Assert.Equal(1, Minute(engine, "USED", T0.AddMinutes(10)).Value);
        Assert.Equal(1, Minute(engine, "USED", T0.AddMinutes(8)).Value);

        engine.Apply("licenses", [TestModels.License(2, T0.AddMinutes(5), "L2", 10, 4)]);
        Assert.Equal(5, Minute(engine, "USED", T0.AddMinutes(8)).Value);
        Assert.Equal(5, Minute(engine, "USED", T0.AddMinutes(10)).Value);
        Assert.Equal(1, Minute(engine, "USED", T0.AddMinutes(4)).Value);
    }

    [Fact]
    public void A_late_snapshot_row_republishes_every_later_bucket()
    {
        var engine = Engine(("USED", "sum(licenses.seats_used)"));
        engine.Apply("licenses", [TestModels.License(1, T0, "L1", 10, 1)]);
        engine.AdvanceTime(At(T0.AddMinutes(3)));
        engine.DrainChanges(_ => true, [], At(T0.AddMinutes(3)));

        engine.Apply("licenses", [TestModels.License(2, T0.AddMinutes(1), "L1", 10, 4)]);
        var changes = new List<KpiValue>();
        engine.DrainChanges(_ => true, changes, At(T0.AddMinutes(3)));
        var minutes = changes.Where(c => c.Granularity == Granularity.Minute).OrderBy(c => c.BucketStart).ToList();
        Assert.Equal([T0.AddMinutes(1), T0.AddMinutes(2), T0.AddMinutes(3)], minutes.Select(m => m.BucketStart));
        Assert.All(minutes, m => Assert.Equal(4, m.Value));
    }

    [Fact]
    public void Three_valued_logic_keeps_rows_with_unknown_conditions_out()
    {
        var engine = Engine(
            ("NOT_OR", "count(orders) filter (where not (orders.on_time or orders.in_full))"),
            ("NOT_GT", "count(orders) filter (where not (orders.value > 1))"),
            ("NOT_IN", "count(orders) filter (where orders.status not in ('Paid'))"),
            ("IS_NULL", "count(orders) filter (where orders.value is null)"));
        engine.Apply("orders",
        [
            TestModels.Order(1, T0, onTime: false, inFull: null, value: null, status: null),
            TestModels.Order(2, T0, onTime: false, inFull: false, value: 0, status: "Void"),
        ]);
        Assert.Equal(1, Minute(engine, "NOT_OR", T0).Value);
        Assert.Equal(1, Minute(engine, "NOT_GT", T0).Value);
        Assert.Equal(1, Minute(engine, "NOT_IN", T0).Value);
        Assert.Equal(1, Minute(engine, "IS_NULL", T0).Value);
    }

    [Fact]
    public void Row_level_division_by_zero_is_null_and_skipped_by_aggregates()
    {
        var engine = Engine(("R", "count(orders.value / orders.quantity)"), ("S", "sum(orders.value / orders.quantity)"));
        var row = TestModels.OrdersLayout.CreateRow(1, T0, new Dictionary<string, object?> { ["value"] = 5, ["quantity"] = 0 });
        var row2 = TestModels.OrdersLayout.CreateRow(2, T0, new Dictionary<string, object?> { ["value"] = 6, ["quantity"] = 2 });
        engine.Apply("orders", [row, row2]);
        Assert.Equal(1, Minute(engine, "R", T0).Value);
        Assert.Equal(3, Minute(engine, "S", T0).Value);
    }

    [Fact]
    public void Text_distinct_counts_and_timestamps()
    {
        var engine = Engine(
            ("CUST", "count_distinct(orders.customer)"),
            ("CYCLE", "avg(orders.delivered_at - orders.ordered_at) / 60000"));
        engine.Apply("orders",
        [
            TestModels.OrdersLayout.CreateRow(1, T0, new Dictionary<string, object?> { ["customer"] = "a", ["ordered_at"] = T0, ["delivered_at"] = T0.AddMinutes(30) }),
            TestModels.OrdersLayout.CreateRow(2, T0, new Dictionary<string, object?> { ["customer"] = "b", ["ordered_at"] = T0, ["delivered_at"] = T0.AddMinutes(90) }),
            TestModels.OrdersLayout.CreateRow(3, T0.AddMinutes(1), new Dictionary<string, object?> { ["customer"] = "a" }),
        ]);
        Assert.Equal(2, engine.Window("CUST", KpiWindow.LastMinutes(2), At(T0.AddMinutes(1))).Value);
        Assert.Equal(60, engine.Window("CYCLE", KpiWindow.LastMinutes(2), At(T0.AddMinutes(1))).Value);
    }

    [Fact]
    public void Retention_evicts_old_buckets_yet_old_rows_still_advance_the_position()
    {
        var options = new KpiEngineOptions { MinuteBucketsKept = 10, HourBucketsKept = 2, DayBucketsKept = 2 };
        var engine = new ClientKpiEngine("c", Utc, [TestModels.Kpi("N", "count(orders)")], TestModels.All, options);
        engine.Apply("orders", [TestModels.Order(1, T0)]);
        engine.AdvanceTime(At(T0.AddMinutes(30)));
        Assert.Equal(0, Minute(engine, "N", T0).Value);
        Assert.Equal(1, engine.Window("N", KpiWindow.LastHours(1), At(T0.AddMinutes(30))).Value);

        engine.Apply("orders", [TestModels.Order(2, T0.AddMinutes(1))]); // older than minute retention
        Assert.Equal(2, engine.Position("orders"));
        Assert.Equal(0, engine.Window("N", KpiWindow.LastMinutes(10), At(T0.AddMinutes(30))).Value);
        Assert.Equal(2, engine.Window("N", KpiWindow.LastHours(1), At(T0.AddMinutes(30))).Value);
    }

    [Fact]
    public void Week_and_month_granularities_are_refused_with_a_pointer_to_windows()
    {
        var engine = Engine(("N", "count(orders)"));
        Assert.Throws<ArgumentOutOfRangeException>(() => engine.Snapshot("N", Granularity.Week, 1, At(T0)));
    }

    [Fact]
    public void Export_and_restore_give_identical_results()
    {
        var kpis = new[]
        {
            TestModels.Kpi("POF", Pof),
            TestModels.Kpi("CUST", "count_distinct(orders.customer)"),
            TestModels.Kpi("VAL", "count_distinct(orders.value) + min(orders.value) + max(orders.value)"),
            TestModels.Kpi("UTIL", "sum(licenses.seats_used) / sum(licenses.seats_purchased)"),
        };
        var engine = new ClientKpiEngine("c", Utc, kpis, TestModels.All, new KpiEngineOptions());
        engine.Apply("orders", Enumerable.Range(1, 50).Select(i => TestModels.Order(i, T0.AddMinutes(i % 7), value: i % 5, onTime: i % 2 == 0, inFull: i % 3 == 0, customer: "c" + (i % 4))).ToList());
        engine.Apply("licenses", [TestModels.License(1, T0, "L1", 10, 3), TestModels.License(2, T0.AddMinutes(2), "L1", 10, 7)]);
        engine.AdvanceTime(At(T0.AddMinutes(8)));

        var bytes = Checkpoints.Serialize(engine.Export());
        Assert.NotEmpty(bytes);
        var restored = ClientKpiEngine.Restore(Checkpoints.RoundTrip(engine.Export()), "c", Utc, kpis, TestModels.All, new KpiEngineOptions());
        foreach (var kpi in kpis)
        {
            foreach (var granularity in new[] { Granularity.Minute, Granularity.Hour, Granularity.Day })
            {
                Assert.Equal(
                    engine.Snapshot(kpi.Code, granularity, 10, At(T0.AddMinutes(8))).Recent.Select(Describe),
                    restored.Snapshot(kpi.Code, granularity, 10, At(T0.AddMinutes(8))).Recent.Select(Describe));
            }
        }

        Assert.Equal(50, restored.Position("orders"));
        Assert.Equal(2, restored.Position("licenses"));

        // Both continue identically.
        var more = new List<EventRow> { TestModels.Order(51, T0.AddMinutes(3), value: 9, customer: "new") };
        engine.Apply("orders", more);
        restored.Apply("orders", more);
        Assert.Equal(Describe(engine.Window("CUST", KpiWindow.DayToDate, At(T0.AddMinutes(8)))), Describe(restored.Window("CUST", KpiWindow.DayToDate, At(T0.AddMinutes(8)))));
    }

    [Fact]
    public void Restore_keeps_state_of_kpis_that_remain_when_the_kpi_set_changes()
    {
        var engine = new ClientKpiEngine("c", Utc, [TestModels.Kpi("A", "sum(orders.value)"), TestModels.Kpi("B", "max(orders.value)")], TestModels.All, new KpiEngineOptions());
        engine.Apply("orders", [TestModels.Order(1, T0, value: 3), TestModels.Order(2, T0, value: 4)]);
        var restored = ClientKpiEngine.Restore(engine.Export(), "c", Utc, [TestModels.Kpi("B", "max(orders.value)"), TestModels.Kpi("C", "count(orders)")], TestModels.All, new KpiEngineOptions());
        Assert.Equal(4, Minute(restored, "B", T0).Value);
        Assert.Equal(0, Minute(restored, "C", T0).Value); // new term starts empty, and is named for the caller to replay
        Assert.Equal(["orders: " + Assert.Single(restored.Objects.Single(o => o.Code == "orders").TermKeys, k => k.Contains("count", StringComparison.OrdinalIgnoreCase))],
            restored.TermsNotInCheckpoint);
    }

    [Fact]
    public void A_checkpoint_restored_with_the_same_terms_misses_none()
    {
        var kpis = new[] { TestModels.Kpi("A", "sum(orders.value)"), TestModels.Kpi("B", "max(orders.value)") };
        var engine = new ClientKpiEngine("c", Utc, kpis, TestModels.All, new KpiEngineOptions());
        engine.Apply("orders", [TestModels.Order(1, T0, value: 3)]);

        var restored = ClientKpiEngine.Restore(Checkpoints.RoundTrip(engine.Export()), "c", Utc, kpis, TestModels.All, new KpiEngineOptions());

        Assert.Empty(restored.TermsNotInCheckpoint);
    }

    private static string Describe(KpiValue v) =>
        $"{v.BucketStart:O} {v.BucketEnd:O} {v.Value} {v.NoValueReason} {v.Revision} {v.EventCount} {v.NewestEventTime:O} {string.Join(",", v.Components)}";

    [Fact]
    public void A_sum_that_overflows_has_no_value_and_no_component_value()
    {
        var engine = Engine(("S", "sum(orders.value)"));
        engine.Apply("orders", [TestModels.Order(1, T0.AddSeconds(1), value: 1e308), TestModels.Order(2, T0.AddSeconds(2), value: 1e308)]);

        var value = Minute(engine, "S", T0.AddSeconds(30));

        Assert.Null(value.Value);
        Assert.NotNull(value.NoValueReason);
        // Not +∞, which no JSON number can carry (the gateway's strict number handling would fail the whole answer).
        Assert.Null(Assert.Single(value.Components).Value);
    }

    [Fact]
    public void A_snapshot_row_far_in_the_future_does_not_stop_the_current_buckets_being_published()
    {
        var engine = Engine(("U", "sum(licenses.seats_used)"));
        engine.Apply("licenses", [TestModels.License(1, T0.AddMinutes(-30), "L1", 10, 4)]);
        engine.DrainChanges(_ => true, [], At(T0));
        // A mistyped observation (the year 2100) of another key.
        engine.Apply("licenses", [TestModels.License(2, new DateTimeOffset(2100, 1, 1, 0, 0, 0, TimeSpan.Zero), "L2", 10, 1)]);
        engine.DrainChanges(_ => true, [], At(T0.AddMinutes(1)));

        engine.AdvanceTime(At(T0.AddMinutes(2)));
        var changes = new List<KpiValue>();
        engine.DrainChanges(_ => true, changes, At(T0.AddMinutes(2)));

        var current = Assert.Single(changes, c => c.Granularity == Granularity.Minute && c.BucketStart == T0.AddMinutes(2));
        Assert.Equal(4, current.Value);
        Assert.DoesNotContain(changes, c => c.BucketStart.Year == 2099);
    }

    [Theory]
    [InlineData(false, -3)] // the late row older than retention
    [InlineData(false, 3)] // the late row in a retained minute before the carried one
    [InlineData(true, -3)] // the revision before retention goes with the checkpoint
    public void A_carried_snapshot_bucket_never_goes_back_a_revision_once_the_bucket_it_carried_from_is_evicted(bool restored, int lateMinute)
    {
        var options = new KpiEngineOptions { MinuteBucketsKept = 10 };
        var kpis = new[] { TestModels.Kpi("U", "sum(licenses.seats_used)") };
        var engine = new ClientKpiEngine("c", Utc, kpis, TestModels.All, options);
        engine.Apply("licenses",
        [
            TestModels.License(1, T0.AddSeconds(1), "L1", 10, 1),
            TestModels.License(2, T0.AddSeconds(2), "L1", 10, 2),
            TestModels.License(3, T0.AddSeconds(3), "L1", 10, 3),
        ]);
        var carried = T0.AddMinutes(5);
        engine.AdvanceTime(At(carried.AddSeconds(30)));
        var held = engine.Snapshot("U", Granularity.Minute, 1, At(carried.AddSeconds(30))).Current!;

        // The bucket the row-less minute carried from leaves retention...
        engine.AdvanceTime(At(T0.AddMinutes(11)));
        engine.DrainChanges(_ => true, [], At(T0.AddMinutes(11)));
        if (restored)
        {
            engine = ClientKpiEngine.Restore(Checkpoints.RoundTrip(engine.Export()), "c", Utc, kpis, TestModels.All, options);
        }

        // ...then a late observation of another key, older than retention, changes what that minute shows.
        engine.Apply("licenses", [TestModels.License(4, T0.AddMinutes(lateMinute), "L2", 10, 100)]);
        var changes = new List<KpiValue>();
        engine.DrainChanges(_ => true, changes, At(T0.AddMinutes(11)));

        var pushed = Assert.Single(changes, c => c.Granularity == Granularity.Minute && c.BucketStart == carried);
        Assert.Equal(103, pushed.Value);
        Assert.True(pushed.Revision > held.Revision, $"pushed revision {pushed.Revision} after holding {held.Revision}");
    }
}
