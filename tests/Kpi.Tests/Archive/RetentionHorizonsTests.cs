using AnalyticsEngine.Archive;
using AnalyticsEngine.Catalog;
using AnalyticsEngine.Proposals;

namespace AnalyticsEngine.Kpi.Tests.Archive;

public sealed class RetentionHorizonsTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 29, 18, 30, 0, TimeSpan.Zero);

    private static ArchiveSegment Segment(DateTimeOffset from, DateTimeOffset to, ArchivedDataKind kind = ArchivedDataKind.Source) =>
        new(1, kind, "orders", from, to, 10, 100, "", "c/orders/x.csv.gz", Now, null, null);

    private static ProposalRetention Policy(RetentionPlan source, RetentionPlan? analytics = null) =>
        new(source, analytics ?? new RetentionPlan(365, false, null), new GranularityAnswer(), [], null, []);

    [Fact]
    public void The_horizon_is_the_start_of_the_utc_day_less_the_active_days()
    {
        Assert.Equal(new DateTimeOffset(2026, 11, 22, 0, 0, 0, TimeSpan.Zero), RetentionHorizons.Horizon(Now, 7));
        // An instant given with an offset is the same instant: its UTC day counts.
        Assert.Equal(new DateTimeOffset(2026, 11, 22, 0, 0, 0, TimeSpan.Zero), RetentionHorizons.Horizon(Now.ToOffset(TimeSpan.FromHours(9)), 7));
    }

    [Fact]
    public void Only_a_query_reaching_further_back_than_any_policy_archives_asks_the_archive()
    {
        var horizon = RetentionHorizons.Horizon(Now, RetentionHorizons.MinActiveDays);
        Assert.True(RetentionHorizons.MayReadArchive(horizon, Now));
        Assert.True(RetentionHorizons.MayReadArchive(Now.AddDays(-6).AddTicks(-1), Now));
        Assert.False(RetentionHorizons.MayReadArchive(Now.AddDays(-6), Now));
        // Whatever the time of day, the newest rows a policy can take out end before a query that does not ask.
        Assert.True(horizon < Now.AddDays(-RetentionHorizons.NeverArchivedDays));
    }

    [Fact]
    public void A_segment_expires_its_active_and_archive_days_after_the_end_of_its_day()
    {
        var segment = Segment(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 1, 2, 0, 0, 0, TimeSpan.Zero));
        Assert.Equal(segment.To.AddDays(97), RetentionHorizons.ExpiresAt(segment, Policy(new RetentionPlan(90, true, 7))));
        Assert.Null(RetentionHorizons.ExpiresAt(segment, Policy(new RetentionPlan(90, true, null))));
        Assert.Equal(segment.To.AddDays(90), RetentionHorizons.ExpiresAt(segment, Policy(new RetentionPlan(90, false, null))));
        Assert.Null(RetentionHorizons.ExpiresAt(segment, null));
        // Batch runs are analytics data: the analytics plan applies.
        var runs = Segment(segment.From, segment.To, ArchivedDataKind.Analytics);
        Assert.Equal(runs.To.AddDays(400), RetentionHorizons.ExpiresAt(runs, Policy(new RetentionPlan(90, true, 7), new RetentionPlan(365, true, 35))));
    }

    [Fact]
    public void A_query_reads_the_segments_of_events_in_its_range_and_of_snapshots_before_its_end()
    {
        var day = new DateTimeOffset(2026, 10, 1, 0, 0, 0, TimeSpan.Zero);
        var segment = Segment(day, day.AddDays(1));
        Assert.True(RetentionHorizons.IsRead(segment, ObjectKind.Event, day.AddHours(23), day.AddDays(5)));
        Assert.False(RetentionHorizons.IsRead(segment, ObjectKind.Event, day.AddDays(1), day.AddDays(5)));
        Assert.False(RetentionHorizons.IsRead(segment, ObjectKind.Event, day.AddDays(-5), day));
        Assert.True(RetentionHorizons.IsRead(segment, ObjectKind.Snapshot, day.AddDays(30), day.AddDays(31)));
        Assert.False(RetentionHorizons.IsRead(segment, ObjectKind.Snapshot, day.AddDays(-5), day));
        Assert.False(RetentionHorizons.IsRead(Segment(day, day.AddDays(1), ArchivedDataKind.Analytics), ObjectKind.Event, day, day.AddDays(1)));

        // Rows replaced before a horizon: a range starting at or after it reads today's rows of those keys, not these.
        var replaced = segment with { ReplacedBefore = day.AddDays(10) };
        Assert.True(RetentionHorizons.IsRead(replaced, ObjectKind.Snapshot, day.AddDays(9), day.AddDays(30)));
        Assert.False(RetentionHorizons.IsRead(replaced, ObjectKind.Snapshot, day.AddDays(10), day.AddDays(30)));
        // The bound is a snapshot object's alone: an event object's segment is read by its days.
        Assert.True(RetentionHorizons.IsRead(replaced, ObjectKind.Event, day, day.AddDays(30)));
    }
}
