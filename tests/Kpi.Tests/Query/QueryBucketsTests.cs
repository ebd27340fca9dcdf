using AnalyticsEngine.Kpi.Engine;
using AnalyticsEngine.Query;
using NodaTime;

namespace AnalyticsEngine.Kpi.Tests.Query;

/// <summary>Query buckets are the stream's buckets, including on days that are not 24 hours long.</summary>
public sealed class QueryBucketsTests
{
    private static readonly DateTimeZone Berlin = DateTimeZoneProviders.Tzdb["Europe/Berlin"];

    private static long Ticks(string instant) => TimeTicks.Of(DateTimeOffset.Parse(instant, System.Globalization.CultureInfo.InvariantCulture));

    private static DateTimeOffset At(long ticks) => TimeTicks.ToDateTimeOffset(ticks);

    [Fact]
    public void Days_follow_local_midnights_across_both_dst_changes()
    {
        var boundaries = QueryBuckets.Compute(Berlin, QueryGranularity.Day, Ticks("2026-03-28T12:00:00Z"), Ticks("2026-10-26T00:00:00Z"), 10_000)!;

        var lengths = boundaries.Zip(boundaries.Skip(1), (a, b) => TimeSpan.FromTicks(b - a).TotalHours).ToArray();
        Assert.Equal(DateTimeOffset.Parse("2026-03-27T23:00:00Z", System.Globalization.CultureInfo.InvariantCulture), At(boundaries[0]));
        Assert.Equal(23, lengths[1]); // Sunday 29 March
        Assert.Equal(25, lengths[^2]); // Sunday 25 October
        Assert.All(lengths.Where((_, i) => i != 1 && i != lengths.Length - 2), l => Assert.Equal(24, l));
    }

    [Fact]
    public void The_repeated_hour_of_a_fall_back_night_is_two_buckets_exactly_as_the_stream_cuts_them()
    {
        var from = Ticks("2026-10-24T22:00:00Z");
        var boundaries = QueryBuckets.Compute(Berlin, QueryGranularity.Hour, from, Ticks("2026-10-25T23:00:00Z"), 10_000)!;

        Assert.Equal(26, boundaries.Length); // 25 hour buckets
        var calendar = new BucketCalendar(Berlin, Granularity.Hour);
        for (var i = 0; i + 1 < boundaries.Length; i++)
        {
            Assert.Equal(new BucketRange(boundaries[i], boundaries[i + 1]), calendar.Resolve(boundaries[i]));
        }
    }

    [Fact]
    public void Weeks_start_on_monday_and_months_on_the_first_local_midnight()
    {
        var weeks = QueryBuckets.Compute(Berlin, QueryGranularity.Week, Ticks("2026-11-26T10:00:00Z"), Ticks("2026-12-01T00:00:00Z"), 100)!;
        var months = QueryBuckets.Compute(Berlin, QueryGranularity.Month, Ticks("2026-02-10T00:00:00Z"), Ticks("2026-04-02T00:00:00Z"), 100)!;

        Assert.Equal([Ticks("2026-11-22T23:00:00Z"), Ticks("2026-11-29T23:00:00Z"), Ticks("2026-12-06T23:00:00Z")], weeks);
        Assert.Equal([Ticks("2026-01-31T23:00:00Z"), Ticks("2026-02-28T23:00:00Z"), Ticks("2026-03-31T22:00:00Z"), Ticks("2026-04-30T22:00:00Z")], months);
    }

    [Fact]
    public void Range_is_one_bucket_and_too_many_points_is_refused()
    {
        Assert.Equal([1L, 5L], QueryBuckets.Compute(Berlin, QueryGranularity.Range, 1, 5, 1)!);
        Assert.Null(QueryBuckets.Compute(Berlin, QueryGranularity.Minute, Ticks("2026-01-01T00:00:00Z"), Ticks("2026-01-08T00:00:00Z"), 10_000));
        Assert.NotNull(QueryBuckets.Compute(Berlin, QueryGranularity.Minute, Ticks("2026-01-01T00:00:00Z"), Ticks("2026-01-07T00:00:00Z"), 10_000));
    }
}
