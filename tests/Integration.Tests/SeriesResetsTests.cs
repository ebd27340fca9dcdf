using AnalyticsEngine.Gateway.Streaming;
using AnalyticsEngine.Kpi;

namespace AnalyticsEngine.Integration.Tests;

/// <summary>The gateway's bookkeeping of series being reset: what follows a snapshot, reads started again, and definitions seen.</summary>
public sealed class SeriesResetsTests
{
    private static readonly WatchKey Series = new("acme", "POF", Granularity.Hour);
    private static readonly DateTimeOffset Hour = new(2026, 11, 29, 8, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Values_pushed_during_the_read_follow_the_snapshot_newest_per_bucket_and_only_buckets_it_has_or_later_ones()
    {
        var resets = new SeriesResets();
        Assert.True(resets.TryStart(Series));
        resets.Record(Series, [Value(Hour, 3), Value(Hour.AddHours(1), 2)]);
        resets.Record(Series, [Value(Hour, 5), Value(Hour, 4)]);
        resets.Record(Series, [Value(Hour.AddHours(-1).AddMinutes(30), 9)]); // a bucket of the grid before a time zone change
        resets.Record(Series, [Value(Hour.AddHours(2), 1)]); // a bucket begun after the snapshot was read

        Assert.True(resets.TryFinish(Series, Snapshot("v2", Hour.AddHours(-1), Hour, Hour.AddHours(1)), out var after));

        Assert.Equal([(Hour, 5L), (Hour.AddHours(1), 2L), (Hour.AddHours(2), 1L)], after.Select(v => (v.BucketStart, v.Revision)));
    }

    [Fact]
    public void Nothing_is_kept_for_a_series_not_being_reset()
    {
        var resets = new SeriesResets();
        resets.Record(Series, [Value(Hour, 1)]);
        Assert.True(resets.TryStart(Series));

        Assert.True(resets.TryFinish(Series, Snapshot("v1", Hour), out var after));
        Assert.Empty(after);
    }

    [Fact]
    public void A_series_redefined_again_during_the_read_is_read_again_keeping_what_was_pushed()
    {
        var resets = new SeriesResets();
        Assert.True(resets.TryStart(Series));
        resets.Record(Series, [Value(Hour, 1)]);
        Assert.False(resets.TryStart(Series));

        Assert.False(resets.TryFinish(Series, Snapshot("v2", Hour), out _));
        Assert.True(resets.TryFinish(Series, Snapshot("v3", Hour), out var after));
        Assert.Equal(1, Assert.Single(after).Revision);
        Assert.True(resets.TryStart(Series)); // finished: the next redefinition starts a read of its own
    }

    [Fact]
    public void An_abandoned_read_can_start_again()
    {
        var resets = new SeriesResets();
        Assert.True(resets.TryStart(Series));
        Assert.False(resets.TryStart(Series));
        resets.Abandon(Series);

        Assert.True(resets.TryStart(Series));
        Assert.True(resets.TryFinish(Series, Snapshot("v1", Hour), out _));
    }

    [Fact]
    public void Only_a_definition_other_than_the_one_viewers_were_sent_is_a_change()
    {
        var resets = new SeriesResets();
        Assert.False(resets.DefinitionChanged(Series, "v1")); // the first one seen
        Assert.False(resets.DefinitionChanged(Series, "v1"));
        Assert.False(resets.DefinitionChanged(Series, null)); // a KPI not computed says nothing
        Assert.True(resets.DefinitionChanged(Series, "v2"));
        Assert.False(resets.DefinitionChanged(Series, "v2"));

        // A reset's snapshot is what viewers were sent; a series no longer watched starts afresh.
        Assert.True(resets.TryStart(Series));
        Assert.True(resets.TryFinish(Series, Snapshot("v3", Hour), out _));
        Assert.False(resets.DefinitionChanged(Series, "v3"));
        resets.Forget(Series);
        Assert.False(resets.DefinitionChanged(Series, "v4"));
    }

    private static KpiSnapshot Snapshot(string definition, params DateTimeOffset[] buckets) =>
        new("acme", "POF", Granularity.Hour, Value(buckets[^1], 0), [.. buckets.Select(b => Value(b, 0))]) { Definition = definition };

    private static KpiValue Value(DateTimeOffset start, long revision) =>
        new("acme", "POF", Granularity.Hour, start, start.AddHours(1), 1.0, null, [], revision, false, null, [], revision);
}
