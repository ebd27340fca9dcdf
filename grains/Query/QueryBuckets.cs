using AnalyticsEngine.Kpi;
using AnalyticsEngine.Kpi.Engine;
using NodaTime;

namespace AnalyticsEngine.Query;

/// <summary>
/// The bucket boundaries of a query, as Unix ticks: bucket <c>i</c> is <c>[Boundaries[i], Boundaries[i + 1])</c>.
/// Minute, hour and day buckets come from the engine's own <see cref="BucketCalendar"/>, so they are the stream's
/// buckets to the tick (DST days of 23 or 25 hours, the repeated hour of a fall-back night as two buckets, zones
/// with half-hour shifts). Weeks and months are runs of whole days of the same calendar.
/// </summary>
internal static class QueryBuckets
{
    /// <summary>Nominal lengths, used only to refuse an oversized request before walking it.</summary>
    private static long NominalTicks(QueryGranularity granularity) => granularity switch
    {
        QueryGranularity.Minute => TimeSpan.TicksPerMinute,
        QueryGranularity.Hour => TimeSpan.TicksPerHour,
        QueryGranularity.Day => TimeSpan.TicksPerDay,
        QueryGranularity.Week => 7 * TimeSpan.TicksPerDay,
        QueryGranularity.Month => 28 * TimeSpan.TicksPerDay,
        _ => long.MaxValue,
    };

    /// <summary>
    /// The boundaries of the whole buckets covering <c>[fromTicks, toTicks)</c>, or null when there would be more
    /// than <paramref name="maxBuckets"/> buckets.
    /// </summary>
    public static long[]? Compute(DateTimeZone zone, QueryGranularity granularity, long fromTicks, long toTicks, int maxBuckets)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(fromTicks, toTicks);
        if (granularity == QueryGranularity.Range)
        {
            return [fromTicks, toTicks];
        }

        // Buckets overlapping the range, each at least ~half a nominal length (a DST minute or hour is never shorter).
        if ((toTicks - fromTicks) / NominalTicks(granularity) > (long)maxBuckets + 2)
        {
            return null;
        }

        var boundaries = new List<long>();
        switch (granularity)
        {
            case QueryGranularity.Minute or QueryGranularity.Hour or QueryGranularity.Day:
            {
                var calendar = new BucketCalendar(zone, (Granularity)(int)granularity);
                var bucket = calendar.Resolve(fromTicks);
                boundaries.Add(bucket.Start);
                while (true)
                {
                    boundaries.Add(bucket.End);
                    if (bucket.End >= toTicks || boundaries.Count > maxBuckets + 1)
                    {
                        break;
                    }

                    var next = calendar.Resolve(bucket.End);
                    if (next.Start != bucket.End)
                    {
                        throw new InvalidOperationException($"buckets are not contiguous at {bucket.End}: the next starts at {next.Start}");
                    }

                    bucket = next;
                }

                break;
            }

            default:
            {
                var days = new BucketCalendar(zone, Granularity.Day);
                var first = days.DateOf(fromTicks);
                var date = granularity == QueryGranularity.Week
                    ? first.With(DateAdjusters.PreviousOrSame(IsoDayOfWeek.Monday))
                    : first.With(DateAdjusters.StartOfMonth);
                boundaries.Add(days.StartOfDay(date));
                while (boundaries[^1] < toTicks && boundaries.Count <= maxBuckets + 1)
                {
                    date = granularity == QueryGranularity.Week ? date.PlusWeeks(1) : date.PlusMonths(1);
                    boundaries.Add(days.StartOfDay(date));
                }

                break;
            }
        }

        return boundaries.Count - 1 > maxBuckets ? null : boundaries.ToArray();
    }

    /// <summary>The stream's granularity a query granularity is reported as in <see cref="KpiValue.Granularity"/>.</summary>
    /// <remarks>The shared enum has no "range": a range value says <c>Day</c> there; its bucket start and end tell the truth.</remarks>
    public static Granularity Reported(QueryGranularity granularity) => granularity switch
    {
        QueryGranularity.Minute => Granularity.Minute,
        QueryGranularity.Hour => Granularity.Hour,
        QueryGranularity.Week => Granularity.Week,
        QueryGranularity.Month => Granularity.Month,
        _ => Granularity.Day,
    };
}
