using AnalyticsEngine.Archive;
using AnalyticsEngine.Catalog;

namespace AnalyticsEngine.Kpi.Tests.Archive;

public sealed class ArchiveReadPlanTests
{
    private static readonly DateTimeOffset June = new(2026, 6, 1, 0, 0, 0, TimeSpan.Zero);

    private static ObjectKind? KindOf(string model) => model == "licenses" ? ObjectKind.Snapshot : ObjectKind.Event;

    /// <summary>A segment of <paramref name="model"/> holding the UTC day <paramref name="day"/> days after 1 June.</summary>
    private static ArchiveSegment Day(long id, string model, int day, bool restored = false) =>
        new(id, ArchivedDataKind.Source, model, June.AddDays(day), June.AddDays(day + 1), 10, 100, "", $"c/{model}/{id}.csv.gz", June, null,
            restored ? June.AddDays(40) : null);

    /// <summary>A model the query reads through rollups (of some coverage).</summary>
    private static ObjectModelRead Rollups(string model) => new(model, [1L]);

    private static ObjectModelRead Raw(string model) => new(model, null);

    private static ArchiveQuery Query(int fromDay, int toDay, params ObjectModelRead[] reads) => new(June.AddDays(fromDay), June.AddDays(toDay), reads, []);

    private static ArchiveReadPlan.Plan Decide(
        ArchiveSegment[] segments, ArchiveQuery query, Dictionary<string, long> wholeAfter, DateTimeOffset? rollupsDeletedBefore = null) =>
        ArchiveReadPlan.Decide(segments, query, wholeAfter, rollupsDeletedBefore, KindOf);

    [Fact]
    public void Rollups_whole_before_the_segments_left_answer_for_them_and_nothing_comes_back()
    {
        ArchiveSegment[] segments = [Day(5, "orders", 0), Day(6, "orders", 1), Day(7, "orders", 2)];

        var plan = Decide(segments, Query(0, 10, Rollups("orders")), new() { ["orders"] = 4 });

        Assert.Empty(plan.Restore);
        Assert.Empty(plan.RawRanges);
        Assert.Empty(plan.RawRowModels);
        Assert.Equal(new ArchivedThroughRollups("orders", 5, false), Assert.Single(plan.ThroughRollups));
        Assert.True(ArchiveReadPlan.ReachesAny(segments, Query(0, 10, Rollups("orders")), KindOf));
        Assert.False(ArchiveReadPlan.ReachesAny(segments, Query(3, 10, Rollups("orders")), KindOf));
    }

    [Fact]
    public void Segments_that_left_before_the_rollups_were_whole_are_read_raw_with_every_model_of_their_days()
    {
        // The orders of day 0 left before the rollups (whole after segment 5) could read them; the shipments of that day
        // come back too, since the query reads the whole day raw.
        ArchiveSegment[] segments = [Day(5, "orders", 0), Day(8, "orders", 1), Day(6, "shipments", 0), Day(9, "shipments", 1)];

        var plan = Decide(segments, Query(0, 10, Rollups("orders"), Rollups("shipments")), new() { ["orders"] = 5, ["shipments"] = 2 });

        Assert.Equal([5L, 6L], plan.Restore.Select(s => s.SegmentId).Order());
        Assert.Equal(new ArchivedRange(June, June.AddDays(1)), Assert.Single(plan.RawRanges));
        Assert.Equal(
            [new ArchivedThroughRollups("orders", 8, false), new ArchivedThroughRollups("shipments", 9, false)],
            plan.ThroughRollups.OrderBy(t => t.ObjectModel));
    }

    [Fact]
    public void Days_whose_rollups_were_deleted_are_read_raw_and_days_a_raw_edge_reaches_only_come_back()
    {
        ArchiveSegment[] segments = [Day(5, "orders", 0), Day(6, "orders", 1), Day(7, "orders", 2), Day(8, "orders", 3, restored: true), Day(9, "orders", 4)];
        var query = Query(0, 10, Rollups("orders")) with { RawRanges = [new(June.AddDays(2).AddHours(23), June.AddDays(3))] };

        var plan = Decide(segments, query, new() { ["orders"] = 0 }, rollupsDeletedBefore: June.AddDays(1).AddHours(1));

        // Days 0 and 1 (their slots deleted, the second in part), merged, are read raw. Day 2's rows come back for the
        // edge, which reads them raw, while its whole slots stay with the rollups, as do days 3 and 4.
        Assert.Equal(new ArchivedRange(June, June.AddDays(2)), Assert.Single(plan.RawRanges));
        Assert.Equal([5L, 6L, 7L], plan.Restore.Select(s => s.SegmentId).Order());
        Assert.Equal(new ArchivedThroughRollups("orders", 7, false), Assert.Single(plan.ThroughRollups));
        Assert.Equal(5, plan.Read);
    }

    [Fact]
    public void Archived_rows_read_through_rollups_are_back_when_every_segment_is_restored_or_restoring()
    {
        ArchiveSegment[] segments = [Day(7, "orders", 2), Day(8, "orders", 3, restored: true)];
        var query = Query(0, 10, Rollups("orders"), Raw("licenses")) with { RawRanges = [new(June.AddDays(2).AddHours(23), June.AddDays(3))] };

        var plan = Decide(segments, query, new() { ["orders"] = 0 });

        Assert.Equal(new ArchivedThroughRollups("orders", 7, true), Assert.Single(plan.ThroughRollups));
        Assert.Equal(["licenses"], plan.Access(1).RawRowModels);
    }

    [Fact]
    public void A_model_read_raw_has_every_segment_it_reads_back_and_adds_no_raw_days_for_the_others()
    {
        // A snapshot object's rows are read raw from before the range (the latest per key as of each bucket).
        ArchiveSegment[] segments = [Day(5, "licenses", -20), Day(6, "orders", 0), Day(7, "orders", -3)];

        var plan = Decide(segments, Query(0, 10, Raw("licenses"), Rollups("orders")), new() { ["orders"] = 1 });

        Assert.Equal([5L], plan.Restore.Select(s => s.SegmentId));
        Assert.Empty(plan.RawRanges);
        Assert.Equal(new ArchivedThroughRollups("orders", 6, false), Assert.Single(plan.ThroughRollups));
    }

    [Fact]
    public void A_model_whose_rollups_do_not_hold_every_row_is_read_raw()
    {
        // Its coverages are not whole (a term being backfilled): no whole-after for it.
        ArchiveSegment[] segments = [Day(5, "orders", 0), Day(6, "orders", 1)];

        var plan = Decide(segments, Query(0, 10, Rollups("orders")), []);

        Assert.Equal([5L, 6L], plan.Restore.Select(s => s.SegmentId).Order());
        Assert.Empty(plan.RawRanges);
        Assert.Empty(plan.ThroughRollups);
        Assert.Equal(["orders"], plan.RawRowModels);
    }

    [Fact]
    public void Segments_of_models_the_query_does_not_read_stay()
    {
        var plan = Decide([Day(5, "invoices", 0)], ArchiveQuery.RawRowsOnly(June, June.AddDays(10), ["orders"]), []);

        Assert.Empty(plan.Restore);
        Assert.Empty(plan.ThroughRollups);
        Assert.Equal(0, plan.Read);
    }
}
