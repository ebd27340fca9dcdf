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

    private static ArchiveQuery Query(int fromDay, int toDay, params ObjectModelRead[] reads) => new(June.AddDays(fromDay), June.AddDays(toDay), reads, []);

    [Fact]
    public void Rollups_whole_before_the_segments_left_answer_for_them_and_nothing_comes_back()
    {
        ArchiveSegment[] segments = [Day(5, "orders", 0), Day(6, "orders", 1), Day(7, "orders", 2)];

        var plan = ArchiveReadPlan.Decide(segments, Query(0, 10, new ObjectModelRead("orders", 4)), null, KindOf);

        Assert.Empty(plan.Restore);
        Assert.Empty(plan.RawRanges);
        Assert.Equal(new ArchivedThroughRollups("orders", 5, false), Assert.Single(plan.ThroughRollups));
    }

    [Fact]
    public void Segments_that_left_before_the_rollups_were_whole_are_read_raw_with_every_model_of_their_days()
    {
        // The orders of day 0 left before the rollups (whole after segment 5) could read them; the shipments of that day
        // come back too, since the query reads the whole day raw.
        ArchiveSegment[] segments = [Day(5, "orders", 0), Day(8, "orders", 1), Day(6, "shipments", 0), Day(9, "shipments", 1)];

        var plan = ArchiveReadPlan.Decide(segments, Query(0, 10, new ObjectModelRead("orders", 5), new ObjectModelRead("shipments", 2)), null, KindOf);

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
        var query = Query(0, 10, new ObjectModelRead("orders", 0)) with { RawRanges = [new(June.AddDays(2).AddHours(23), June.AddDays(3))] };

        var plan = ArchiveReadPlan.Decide(segments, query, rollupsDeletedBefore: June.AddDays(1).AddHours(1), KindOf);

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
        var query = Query(0, 10, new ObjectModelRead("orders", 0)) with { RawRanges = [new(June.AddDays(2).AddHours(23), June.AddDays(3))] };

        var plan = ArchiveReadPlan.Decide(segments, query, null, KindOf);

        Assert.Equal(new ArchivedThroughRollups("orders", 7, true), Assert.Single(plan.ThroughRollups));
        Assert.Equal(["licenses"], plan.Access(query with { Reads = [.. query.Reads, new ObjectModelRead("licenses", null)] }, 1).RawRowModels);
    }

    [Fact]
    public void A_model_read_raw_has_every_segment_it_reads_back_and_adds_no_raw_days_for_the_others()
    {
        // A snapshot object's rows are read raw from before the range (the latest per key as of each bucket).
        ArchiveSegment[] segments = [Day(5, "licenses", -20), Day(6, "orders", 0), Day(7, "orders", -3)];

        var plan = ArchiveReadPlan.Decide(segments, Query(0, 10, new ObjectModelRead("licenses", null), new ObjectModelRead("orders", 1)), null, KindOf);

        Assert.Equal([5L], plan.Restore.Select(s => s.SegmentId));
        Assert.Empty(plan.RawRanges);
        Assert.Equal(new ArchivedThroughRollups("orders", 6, false), Assert.Single(plan.ThroughRollups));
    }

    [Fact]
    public void Segments_of_models_the_query_does_not_read_stay()
    {
        var plan = ArchiveReadPlan.Decide([Day(5, "invoices", 0)], ArchiveQuery.RawRowsOnly(June, June.AddDays(10), ["orders"]), null, KindOf);

        Assert.Empty(plan.Restore);
        Assert.Empty(plan.ThroughRollups);
    }
}
