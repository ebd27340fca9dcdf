using AnalyticsEngine.Batch;
using NodaTime;
using NodaTime.Text;

namespace AnalyticsEngine.Grains.Tests.Batch;

/// <summary>When scheduled jobs run and what they cover, in the client's zone, across DST changes; no cluster, no clock.</summary>
public sealed class BatchCalendarTests
{
    private static readonly DateTimeZone Berlin = DateTimeZoneProviders.Tzdb["Europe/Berlin"];
    private static readonly DateTimeZone NewYork = DateTimeZoneProviders.Tzdb["America/New_York"];
    private static readonly DateTimeZone Kolkata = DateTimeZoneProviders.Tzdb["Asia/Kolkata"];

    private static Instant At(string instant) => InstantPattern.ExtendedIso.Parse(instant).Value;

    private static BatchSchedule Daily(int hour, int minute) => new(BatchFrequency.Daily, hour, minute);

    [Fact]
    public void A_daily_job_runs_at_its_local_time_and_strictly_after_the_given_instant()
    {
        var due = BatchCalendar.NextRun(Daily(2, 30), Berlin, At("2026-07-01T12:00:00Z"));
        Assert.Equal(At("2026-07-02T00:30:00Z"), due); // 02:30 CEST

        Assert.Equal(At("2026-07-03T00:30:00Z"), BatchCalendar.NextRun(Daily(2, 30), Berlin, due));
    }

    [Fact]
    public void Runs_missed_while_no_silo_was_up_are_stood_for_by_the_latest_of_them()
    {
        // Due Monday 06:00 Berlin; the silos come back on Thursday at 09:00: Thursday's 06:00 is the latest run missed.
        var monday = At("2026-11-02T05:00:00Z");
        Assert.Equal(At("2026-11-05T05:00:00Z"), BatchCalendar.LatestRun(Daily(6, 0), Berlin, monday, At("2026-11-05T08:00:00Z")));

        // Only the due time itself has passed: that is the run.
        Assert.Equal(monday, BatchCalendar.LatestRun(Daily(6, 0), Berlin, monday, monday + Duration.FromMinutes(1)));

        // Hourly across the fall-back night (2026-10-25 in Berlin): the repeated hour counts twice, the latest is 03:15 CET.
        var hourly = new BatchSchedule(BatchFrequency.Hourly, 0, 15);
        Assert.Equal(At("2026-10-25T02:15:00Z"),
            BatchCalendar.LatestRun(hourly, Berlin, At("2026-10-24T22:15:00Z"), At("2026-10-25T02:20:00Z")));
    }

    [Fact]
    public void A_daily_job_whose_time_is_skipped_by_spring_forward_runs_when_the_clock_resumes()
    {
        // 2026-03-29 in Berlin: 02:00 CET jumps to 03:00 CEST, so 02:30 does not exist; it runs at 03:30 CEST.
        var due = BatchCalendar.NextRun(Daily(2, 30), Berlin, At("2026-03-28T12:00:00Z"));
        Assert.Equal(At("2026-03-29T01:30:00Z"), due);
        Assert.Equal(new LocalTime(3, 30), due.InZone(Berlin).TimeOfDay);

        // The next day it is 02:30 CEST again: 23 hours later.
        var next = BatchCalendar.NextRun(Daily(2, 30), Berlin, due);
        Assert.Equal(At("2026-03-30T00:30:00Z"), next);
    }

    [Fact]
    public void A_daily_job_whose_time_is_repeated_by_fall_back_runs_once_at_the_first_occurrence()
    {
        // 2026-10-25 in Berlin: 03:00 CEST falls back to 02:00 CET, so 02:30 happens twice (00:30Z and 01:30Z).
        var due = BatchCalendar.NextRun(Daily(2, 30), Berlin, At("2026-10-24T12:00:00Z"));
        Assert.Equal(At("2026-10-25T00:30:00Z"), due);

        var next = BatchCalendar.NextRun(Daily(2, 30), Berlin, due);
        Assert.Equal(At("2026-10-26T01:30:00Z"), next); // 02:30 CET the next day, not 01:30Z the same day
    }

    [Fact]
    public void An_hourly_job_runs_in_every_real_hour_including_the_repeated_one()
    {
        var schedule = new BatchSchedule(BatchFrequency.Hourly, 0, 15);
        var runs = new List<Instant>();
        var after = At("2026-10-24T23:00:00Z"); // 01:00 CEST on the fall-back night
        for (var i = 0; i < 4; i++)
        {
            after = BatchCalendar.NextRun(schedule, Berlin, after);
            runs.Add(after);
        }

        // 01:15 CEST, 02:15 CEST, 02:15 CET, 03:15 CET: one hour apart each.
        Assert.Equal(
            [At("2026-10-24T23:15:00Z"), At("2026-10-25T00:15:00Z"), At("2026-10-25T01:15:00Z"), At("2026-10-25T02:15:00Z")],
            runs);
        Assert.All(runs, r => Assert.Equal(15, r.InZone(Berlin).Minute));
    }

    [Fact]
    public void An_hourly_job_skips_no_real_hour_on_spring_forward()
    {
        var schedule = new BatchSchedule(BatchFrequency.Hourly, 0, 0);
        var first = BatchCalendar.NextRun(schedule, Berlin, At("2026-03-29T00:30:00Z")); // 01:30 CET
        var second = BatchCalendar.NextRun(schedule, Berlin, first);
        Assert.Equal(At("2026-03-29T01:00:00Z"), first);  // 03:00 CEST (02:00 CET does not exist)
        Assert.Equal(At("2026-03-29T02:00:00Z"), second); // 04:00 CEST
    }

    [Fact]
    public void An_hourly_job_in_a_half_hour_zone_runs_at_its_local_minute()
    {
        var due = BatchCalendar.NextRun(new BatchSchedule(BatchFrequency.Hourly, 0, 0), Kolkata, At("2026-07-01T10:05:00Z"));
        Assert.Equal(At("2026-07-01T10:30:00Z"), due); // 16:00 IST
    }

    [Fact]
    public void A_weekly_job_runs_on_its_local_weekday_across_the_us_dst_change()
    {
        var schedule = new BatchSchedule(BatchFrequency.Weekly, 8, 0, DayOfWeek.Monday);
        // Thursday 2026-03-05; New York springs forward on Sunday 2026-03-08.
        var first = BatchCalendar.NextRun(schedule, NewYork, At("2026-03-05T12:00:00Z"));
        Assert.Equal(At("2026-03-09T12:00:00Z"), first); // Monday 08:00 EDT
        var second = BatchCalendar.NextRun(schedule, NewYork, first);
        Assert.Equal(At("2026-03-16T12:00:00Z"), second);

        // Asked on the Monday itself before 08:00, it runs that day.
        Assert.Equal(first, BatchCalendar.NextRun(schedule, NewYork, At("2026-03-09T11:59:59Z")));
    }

    [Fact]
    public void The_previous_day_on_a_spring_forward_day_is_23_hours_of_the_client_zone()
    {
        var (from, to) = BatchCalendar.RangeFor(new BatchRange(BatchRangeUnit.Day, 1), Berlin, At("2026-03-30T00:30:00Z"));
        Assert.Equal(At("2026-03-28T23:00:00Z"), from); // 2026-03-29 00:00 CET
        Assert.Equal(At("2026-03-29T22:00:00Z"), to);   // 2026-03-30 00:00 CEST
        Assert.Equal(Duration.FromHours(23), to - from);
    }

    [Fact]
    public void The_previous_hours_are_real_hours_and_the_repeated_hour_counts_twice()
    {
        // Due at 02:30 CET (the second 02:30 of the fall-back night): the previous complete hour is 02:00-03:00 CEST.
        var (from, to) = BatchCalendar.RangeFor(new BatchRange(BatchRangeUnit.Hour, 1), Berlin, At("2026-10-25T01:30:00Z"));
        Assert.Equal(At("2026-10-25T00:00:00Z"), from);
        Assert.Equal(At("2026-10-25T01:00:00Z"), to);

        // 24 hours back from local midnight after the fall-back day: 23:00 local the day before... in real hours.
        var (dayFrom, dayTo) = BatchCalendar.RangeFor(new BatchRange(BatchRangeUnit.Hour, 24), Berlin, At("2026-10-25T23:10:00Z"));
        Assert.Equal(Duration.FromHours(24), dayTo - dayFrom);
        Assert.Equal(At("2026-10-25T23:00:00Z"), dayTo);
    }

    [Fact]
    public void Weeks_start_on_monday_and_months_on_the_first_in_the_client_zone()
    {
        var wednesday = At("2026-07-15T10:00:00Z");
        var (weekFrom, weekTo) = BatchCalendar.RangeFor(new BatchRange(BatchRangeUnit.Week, 1), Berlin, wednesday);
        Assert.Equal(At("2026-07-05T22:00:00Z"), weekFrom); // Monday 2026-07-06 00:00 CEST
        Assert.Equal(At("2026-07-12T22:00:00Z"), weekTo);   // Monday 2026-07-13 00:00 CEST

        var (monthFrom, monthTo) = BatchCalendar.RangeFor(new BatchRange(BatchRangeUnit.Month, 2), NewYork, At("2026-03-15T12:00:00Z"));
        Assert.Equal(At("2026-01-01T05:00:00Z"), monthFrom); // 2026-01-01 00:00 EST
        Assert.Equal(At("2026-03-01T05:00:00Z"), monthTo);   // 2026-03-01 00:00 EST
    }

    [Fact]
    public void A_run_due_exactly_at_midnight_covers_the_day_that_just_ended()
    {
        var midnight = At("2026-07-01T22:00:00Z"); // 2026-07-02 00:00 CEST
        var (from, to) = BatchCalendar.RangeFor(new BatchRange(BatchRangeUnit.Day, 1), Berlin, midnight);
        Assert.Equal(At("2026-06-30T22:00:00Z"), from);
        Assert.Equal(midnight, to);
    }

    [Theory]
    [InlineData(BatchFrequency.Daily, 24, 0, BatchRangeUnit.Day, 1, "schedule.time")]
    [InlineData(BatchFrequency.Hourly, 0, 60, BatchRangeUnit.Hour, 1, "schedule.minute")]
    [InlineData(BatchFrequency.Daily, 2, 0, BatchRangeUnit.Day, 0, "range.count")]
    [InlineData(BatchFrequency.Daily, 2, 0, BatchRangeUnit.Day, 367, "range.count")]
    [InlineData((BatchFrequency)7, 2, 0, BatchRangeUnit.Day, 1, "schedule.frequency")]
    [InlineData(BatchFrequency.Daily, 2, 0, (BatchRangeUnit)9, 1, "range.unit")]
    public void Invalid_schedules_and_ranges_name_their_field(BatchFrequency frequency, int hour, int minute, BatchRangeUnit unit, int count, string field)
    {
        var problems = BatchCalendar.Validate(new BatchSchedule(frequency, hour, minute), new BatchRange(unit, count));
        Assert.Contains(problems, p => p.Field == field);
    }

    [Fact]
    public void A_valid_schedule_has_no_problems()
    {
        Assert.Empty(BatchCalendar.Validate(new BatchSchedule(BatchFrequency.Weekly, 23, 59, DayOfWeek.Sunday), new BatchRange(BatchRangeUnit.Month, 60)));
    }
}
