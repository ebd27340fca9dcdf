using AnalyticsEngine.Kpi.Engine;
using NodaTime;

namespace AnalyticsEngine.Kpi.Tests;

/// <summary>Buckets in the client's zone across daylight-saving changes (America/New_York, 2026).</summary>
public class TimeZoneTests
{
    private static readonly DateTimeZone NewYork = DateTimeZoneProviders.Tzdb["America/New_York"];

    private static ClientKpiEngine Engine() =>
        new("c", NewYork, [TestModels.Kpi("N", "count(orders)")], TestModels.All, new KpiEngineOptions());

    private static DateTimeOffset Utc(int month, int day, int hour, int minute = 0) => new(2026, month, day, hour, minute, 0, TimeSpan.Zero);

    [Fact]
    public void Spring_forward_day_has_23_hours_and_no_2am_bucket()
    {
        var engine = Engine();
        // 2026-03-08: 01:59:59 EST (06:59:59Z) is followed by 03:00 EDT (07:00Z).
        engine.Apply("orders", [TestModels.Order(1, Utc(3, 8, 6, 30)), TestModels.Order(2, Utc(3, 8, 7, 30)), TestModels.Order(3, Utc(3, 8, 12))]);
        var now = Instant.FromDateTimeOffset(Utc(3, 8, 7, 30));

        var day = engine.Snapshot("N", Granularity.Day, 1, now).Current!;
        Assert.Equal(Utc(3, 8, 5), day.BucketStart);  // midnight EST
        Assert.Equal(Utc(3, 9, 4), day.BucketEnd);    // midnight EDT
        Assert.Equal(TimeSpan.FromHours(23), day.BucketEnd - day.BucketStart);
        Assert.Equal(3, day.Value);

        var hours = engine.Snapshot("N", Granularity.Hour, 3, now).Recent;
        Assert.Equal([Utc(3, 8, 5), Utc(3, 8, 6), Utc(3, 8, 7)], hours.Select(h => h.BucketStart)); // 00:00 EST, 01:00 EST, 03:00 EDT
        Assert.Equal(["00", "01", "03"], hours.Select(h => Local(h.BucketStart).Hour.ToString("00", System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal([0.0, 1, 1], hours.Select(h => h.Value));
        Assert.All(hours, h => Assert.Equal(TimeSpan.FromHours(1), h.BucketEnd - h.BucketStart));
    }

    [Fact]
    public void Fall_back_day_has_25_hours_and_the_repeated_hour_is_two_buckets()
    {
        var engine = Engine();
        // 2026-11-01: 01:00-02:00 EDT (05:00Z-06:00Z), then 01:00-02:00 EST again (06:00Z-07:00Z).
        engine.Apply("orders",
        [
            TestModels.Order(1, Utc(11, 1, 5, 15)),  // 01:15 EDT
            TestModels.Order(2, Utc(11, 1, 6, 15)),  // 01:15 EST
            TestModels.Order(3, Utc(11, 1, 6, 45)),  // 01:45 EST
        ]);
        var now = Instant.FromDateTimeOffset(Utc(11, 1, 6, 50));

        var hours = engine.Snapshot("N", Granularity.Hour, 2, now).Recent;
        Assert.Equal([Utc(11, 1, 5), Utc(11, 1, 6)], hours.Select(h => h.BucketStart));
        Assert.Equal([Utc(11, 1, 6), Utc(11, 1, 7)], hours.Select(h => h.BucketEnd));
        Assert.All(hours, h => Assert.Equal(1, Local(h.BucketStart).Hour));
        Assert.Equal([1.0, 2], hours.Select(h => h.Value));

        var day = engine.Snapshot("N", Granularity.Day, 1, now).Current!;
        Assert.Equal(TimeSpan.FromHours(25), day.BucketEnd - day.BucketStart);
        Assert.Equal(Utc(11, 1, 4), day.BucketStart);
        Assert.Equal(3, day.Value);

        // Minute buckets of the two 01:15s are distinct too.
        var minute = engine.Snapshot("N", Granularity.Minute, 61, now).Recent;
        Assert.Equal(1, minute.Single(m => m.BucketStart == Utc(11, 1, 6, 15)).Value);
        Assert.Equal(1, engine.Snapshot("N", Granularity.Minute, 1, Instant.FromDateTimeOffset(Utc(11, 1, 5, 15))).Current!.Value);
    }

    [Fact]
    public void Rolling_hours_across_the_fall_back_count_real_hours()
    {
        var engine = Engine();
        engine.Apply("orders", [TestModels.Order(1, Utc(11, 1, 4, 30)), TestModels.Order(2, Utc(11, 1, 5, 30)), TestModels.Order(3, Utc(11, 1, 6, 30))]);
        var now = Instant.FromDateTimeOffset(Utc(11, 1, 6, 40));
        var lastTwo = engine.Window("N", KpiWindow.LastHours(2), now);
        Assert.Equal(Utc(11, 1, 5), lastTwo.BucketStart); // 01:00 EDT and 01:00 EST
        Assert.Equal(2, lastTwo.Value);
        Assert.Equal(3, engine.Window("N", KpiWindow.LastHours(3), now).Value);
    }

    [Fact]
    public void Period_to_date_windows_start_at_local_midnight()
    {
        var engine = Engine();
        // Sunday 2026-11-01 and the Monday before it; 2026-10-26 is a Monday.
        engine.Apply("orders",
        [
            TestModels.Order(1, Utc(10, 1, 4, 30)),   // 2026-10-01 00:30 EDT: this month, quarter and year
            TestModels.Order(2, Utc(10, 1, 3, 30)),   // 2026-09-30 23:30 EDT: previous month and quarter
            TestModels.Order(3, Utc(10, 26, 4, 5)),   // Monday 00:05 EDT: this week
            TestModels.Order(4, Utc(10, 26, 3, 55)),  // Sunday 23:55 EDT: last week
            TestModels.Order(5, Utc(11, 1, 4, 10)),   // Sunday 00:10 EDT: today
        ]);
        var now = Instant.FromDateTimeOffset(Utc(11, 1, 12));
        var today = engine.Window("N", KpiWindow.DayToDate, now);
        Assert.Equal((Utc(11, 1, 4), 1.0), (today.BucketStart, today.Value!.Value));
        var week = engine.Window("N", KpiWindow.WeekToDate, now);
        Assert.Equal((Utc(10, 26, 4), 2.0), (week.BucketStart, week.Value!.Value));
        var month = engine.Window("N", KpiWindow.MonthToDate, now);
        Assert.Equal((Utc(11, 1, 4), 1.0), (month.BucketStart, month.Value!.Value));
        var quarter = engine.Window("N", KpiWindow.QuarterToDate, now);
        Assert.Equal((Utc(10, 1, 4), 4.0), (quarter.BucketStart, quarter.Value!.Value));
        var year = engine.Window("N", KpiWindow.YearToDate, now);
        Assert.Equal((Utc(1, 1, 5), 5.0), (year.BucketStart, year.Value!.Value));
        Assert.Equal(Utc(11, 2, 5), year.BucketEnd);
        Assert.Equal(Granularity.Day, year.Granularity);
    }

    private static LocalDateTime Local(DateTimeOffset time) => Instant.FromDateTimeOffset(time).InZone(NewYork).LocalDateTime;

    [Theory]
    [InlineData("Australia/Lord_Howe", 100)] // clocks move by 30 minutes: an hour bucket there lasts half an hour once a year
    [InlineData("Australia/Lord_Howe", 1080)]
    [InlineData("America/New_York", 1080)]
    [InlineData("Asia/Kolkata", 500)]
    public void The_start_of_the_last_hours_is_the_one_a_walk_back_bucket_by_bucket_reaches(string zoneId, int count)
    {
        var calendar = new BucketCalendar(DateTimeZoneProviders.Tzdb[zoneId], Granularity.Hour);
        // Three days after Lord Howe's clocks went back (2026-04-05 02:00 +11 to 01:30 +10:30).
        var now = Instant.FromUtc(2026, 4, 7, 12, 10).ToUnixTimeTicks();
        var walked = calendar.Resolve(now);
        for (var i = 1; i < count; i++)
        {
            walked = calendar.Previous(walked);
        }

        Assert.Equal(walked.Start, calendar.StartOfLast(now, count));
    }
}
