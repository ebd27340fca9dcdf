using NodaTime;

namespace AnalyticsEngine.Kpi.Engine;

/// <summary>A bucket's extent as Unix ticks (100 ns since 1970-01-01 UTC), start inclusive, end exclusive.</summary>
internal readonly record struct BucketRange(long Start, long End)
{
    public bool Contains(long ticks) => ticks >= Start && ticks < End;
}

/// <summary>
/// Cuts time into minute, hour or day buckets of the client's local clock, all with NodaTime. Minute and hour
/// buckets never straddle an offset change (the zone interval bounds them), so the repeated hour of a fall-back
/// day is two buckets; days run from one local midnight (or the first valid instant after it) to the next.
/// </summary>
internal sealed class BucketCalendar(DateTimeZone zone, Granularity granularity)
{
    public Granularity Granularity { get; } = granularity;

    public DateTimeZone Zone { get; } = zone;

    public BucketRange Resolve(long unixTicks)
    {
        var zoned = Instant.FromUnixTimeTicks(unixTicks).InZone(Zone);
        if (Granularity == Granularity.Day)
        {
            var date = zoned.Date;
            return new BucketRange(StartOfDay(date), StartOfDay(date.PlusDays(1)));
        }

        var local = zoned.LocalDateTime;
        var truncated = Granularity == Granularity.Minute
            ? local.Date.At(new LocalTime(local.Hour, local.Minute))
            : local.Date.At(new LocalTime(local.Hour, 0));
        var next = Granularity == Granularity.Minute ? truncated.PlusMinutes(1) : truncated.PlusHours(1);
        var interval = zoned.GetZoneInterval();
        var start = truncated.WithOffset(zoned.Offset).ToInstant();
        var end = next.WithOffset(zoned.Offset).ToInstant();
        if (interval.HasStart && start < interval.Start)
        {
            start = interval.Start;
        }

        if (interval.HasEnd && end > interval.End)
        {
            end = interval.End;
        }

        return new BucketRange(start.ToUnixTimeTicks(), end.ToUnixTimeTicks());
    }

    /// <summary>Whether every change of the zone's offset between the two instants is a whole number of <paramref name="unitTicks"/>.</summary>
    private bool OffsetChangesAreWhole(long fromTicks, long toTicks, long unitTicks)
    {
        Offset? previous = null;
        foreach (var interval in Zone.GetZoneIntervals(Instant.FromUnixTimeTicks(fromTicks), Instant.FromUnixTimeTicks(toTicks)))
        {
            if (previous is { } before && (interval.WallOffset - before).Ticks % unitTicks != 0)
            {
                return false;
            }

            previous = interval.WallOffset;
        }

        return true;
    }

    /// <summary>The bucket just before the one starting at <paramref name="start"/>.</summary>
    public BucketRange Previous(BucketRange bucket) => Resolve(bucket.Start - 1);

    /// <summary>The start of the oldest of the <paramref name="count"/> buckets ending with the one holding <paramref name="unixTicks"/>.</summary>
    public long StartOfLast(long unixTicks, int count)
    {
        if (Granularity == Granularity.Day)
        {
            var date = Instant.FromUnixTimeTicks(unixTicks).InZone(Zone).Date;
            return StartOfDay(date.PlusDays(-(count - 1)));
        }

        // Walk back bucket by bucket (exact even where a zone shifts by a fraction of the unit); for long spans use
        // the fixed unit length, which is exact wherever the zone's offset changes by whole units over the span (not
        // in Australia/Lord_Howe, whose clocks move by 30 minutes: an hour bucket there can last half an hour).
        var bucket = Resolve(unixTicks);
        if (count > 64)
        {
            var unit = Granularity == Granularity.Minute ? TimeSpan.TicksPerMinute : TimeSpan.TicksPerHour;
            var estimate = Resolve(bucket.Start - ((count - 1) * unit)).Start;
            if (OffsetChangesAreWhole(estimate, bucket.Start, unit))
            {
                return estimate;
            }
        }

        for (var i = 1; i < count; i++)
        {
            bucket = Previous(bucket);
        }

        return bucket.Start;
    }

    public LocalDate DateOf(long unixTicks) => Instant.FromUnixTimeTicks(unixTicks).InZone(Zone).Date;

    public long StartOfDay(LocalDate date) => Zone.AtStartOfDay(date).ToInstant().ToUnixTimeTicks();
}
