using AnalyticsEngine.Kpi;
using AnalyticsEngine.Kpi.Engine;
using NodaTime;

namespace AnalyticsEngine.Batch;

/// <summary>
/// The time arithmetic of scheduled batches, in the client's time zone and nothing else: when a job runs next, and
/// which range a run covers. Plain functions, so DST and calendar edges are tested without a cluster or a clock.
/// </summary>
internal static class BatchCalendar
{
    /// <summary>The nominal time between runs; the reminder's period (each run re-aligns the next tick exactly).</summary>
    public static TimeSpan NominalPeriod(BatchFrequency frequency) => frequency switch
    {
        BatchFrequency.Hourly => TimeSpan.FromHours(1),
        BatchFrequency.Daily => TimeSpan.FromDays(1),
        _ => TimeSpan.FromDays(7),
    };

    /// <summary>What is wrong with a schedule and a range, each naming its request field.</summary>
    public static List<BatchJobProblem> Validate(BatchSchedule schedule, BatchRange range)
    {
        var problems = new List<BatchJobProblem>();
        if (!Enum.IsDefined(schedule.Frequency))
        {
            problems.Add(new("schedule.frequency", "must be 'hourly', 'daily' or 'weekly'."));
        }

        if (schedule.Hour is < 0 or > 23)
        {
            problems.Add(new("schedule.time", $"hour {schedule.Hour} is not between 0 and 23."));
        }

        if (schedule.Minute is < 0 or > 59)
        {
            problems.Add(new(schedule.Frequency == BatchFrequency.Hourly ? "schedule.minute" : "schedule.time", $"minute {schedule.Minute} is not between 0 and 59."));
        }

        if (!Enum.IsDefined(schedule.DayOfWeek))
        {
            problems.Add(new("schedule.dayOfWeek", "is not a day of the week."));
        }

        if (!Enum.IsDefined(range.Unit))
        {
            problems.Add(new("range.unit", "must be 'hour', 'day', 'week' or 'month'."));
        }
        else if (range.Count < 1 || range.Count > BatchRange.MaxCount(range.Unit))
        {
            problems.Add(new("range.count", $"must be between 1 and {BatchRange.MaxCount(range.Unit)} for {range.Unit.ToString().ToLowerInvariant()}s; it is {range.Count}."));
        }

        return problems;
    }

    /// <summary>The first time strictly after <paramref name="after"/> at which the schedule is due.</summary>
    public static Instant NextRun(BatchSchedule schedule, DateTimeZone zone, Instant after)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        ArgumentNullException.ThrowIfNull(zone);
        if (schedule.Frequency == BatchFrequency.Hourly)
        {
            // Every real hour at this local minute: walk whole minutes, so an hour repeated by a fall-back change runs
            // twice and zones with half- or quarter-hour offsets need no special case.
            var start = Instant.FromUnixTimeTicks(after.ToUnixTimeTicks() - (after.ToUnixTimeTicks() % TimeSpan.TicksPerMinute)) + Duration.FromMinutes(1);
            for (var i = 0; i < 3 * 60; i++)
            {
                var candidate = start + Duration.FromMinutes(i);
                var local = candidate.InZone(zone);
                if (local.Minute == schedule.Minute && local.Second == 0)
                {
                    return candidate;
                }
            }

            throw new InvalidOperationException($"No local minute {schedule.Minute} within three hours after {after} in {zone.Id}.");
        }

        var time = new LocalTime(schedule.Hour, schedule.Minute);
        var date = after.InZone(zone).Date.PlusDays(-1);
        for (var i = 0; i < 16; i++, date = date.PlusDays(1))
        {
            if (schedule.Frequency == BatchFrequency.Weekly && date.DayOfWeek != ToIso(schedule.DayOfWeek))
            {
                continue;
            }

            // A skipped local time runs when the clock resumes (shifted by the gap); a repeated one at its first occurrence.
            var candidate = zone.AtLeniently(date.At(time)).ToInstant();
            if (candidate > after)
            {
                return candidate;
            }
        }

        throw new InvalidOperationException($"No run of {schedule} within two weeks after {after} in {zone.Id}.");
    }

    /// <summary>
    /// The latest time at or before <paramref name="now"/> at which the schedule was due, from <paramref name="due"/> (a
    /// due time not after it) on: the run that stands for every one missed while no silo was up, since its range is
    /// the most recent complete one, which its readers wait for.
    /// </summary>
    public static Instant LatestRun(BatchSchedule schedule, DateTimeZone zone, Instant due, Instant now)
    {
        var latest = due;
        for (var next = NextRun(schedule, zone, latest); next <= now; next = NextRun(schedule, zone, next))
        {
            latest = next;
        }

        return latest;
    }

    /// <summary>
    /// The <c>[from, to)</c> a run due at <paramref name="due"/> covers: the <see cref="BatchRange.Count"/> complete
    /// units before the one holding <paramref name="due"/>. Hours are the stream's hour buckets (a repeated hour is two).
    /// </summary>
    public static (Instant From, Instant To) RangeFor(BatchRange range, DateTimeZone zone, Instant due)
    {
        ArgumentNullException.ThrowIfNull(range);
        ArgumentNullException.ThrowIfNull(zone);
        ArgumentOutOfRangeException.ThrowIfLessThan(range.Count, 1);
        var date = due.InZone(zone).Date;
        switch (range.Unit)
        {
            case BatchRangeUnit.Hour:
            {
                var hours = new BucketCalendar(zone, Granularity.Hour);
                var current = hours.Resolve(due.ToUnixTimeTicks());
                var first = current;
                for (var i = 0; i < range.Count; i++)
                {
                    first = hours.Previous(first);
                }

                return (Instant.FromUnixTimeTicks(first.Start), Instant.FromUnixTimeTicks(current.Start));
            }

            case BatchRangeUnit.Day:
                return (StartOf(zone, date.PlusDays(-range.Count)), StartOf(zone, date));
            case BatchRangeUnit.Week:
            {
                var monday = date.With(DateAdjusters.PreviousOrSame(IsoDayOfWeek.Monday));
                return (StartOf(zone, monday.PlusWeeks(-range.Count)), StartOf(zone, monday));
            }

            case BatchRangeUnit.Month:
            {
                var first = date.With(DateAdjusters.StartOfMonth);
                return (StartOf(zone, first.PlusMonths(-range.Count)), StartOf(zone, first));
            }

            default:
                throw new ArgumentOutOfRangeException(nameof(range), range.Unit, null);
        }
    }

    private static Instant StartOf(DateTimeZone zone, LocalDate date) => zone.AtStartOfDay(date).ToInstant();

    private static IsoDayOfWeek ToIso(DayOfWeek day) => day == DayOfWeek.Sunday ? IsoDayOfWeek.Sunday : (IsoDayOfWeek)(int)day;
}
