namespace AnalyticsEngine.Kpi;

/// <summary>The kinds of window <see cref="ClientKpiEngine.Window"/> composes from buckets.</summary>
public enum KpiWindowKind
{
    /// <summary>The current minute bucket and the <c>Count - 1</c> before it.</summary>
    LastMinutes = 0,

    /// <summary>The current hour bucket and the <c>Count - 1</c> before it.</summary>
    LastHours = 1,

    /// <summary>The current day and the <c>Count - 1</c> days before it.</summary>
    LastDays = 2,

    /// <summary>Today so far, in the client's time zone.</summary>
    DayToDate = 3,

    /// <summary>Since Monday 00:00 of the current ISO week.</summary>
    WeekToDate = 4,

    /// <summary>Since the first day of the month.</summary>
    MonthToDate = 5,

    /// <summary>Since the first day of the calendar quarter.</summary>
    QuarterToDate = 6,

    /// <summary>Since 1 January.</summary>
    YearToDate = 7,
}

/// <summary>
/// How many buckets of each granularity the live engine can answer from: a snapshot's recent buckets and a rolling
/// window reach at most this far back (the engine keeps at least these; longer ranges are one-time queries, which
/// read the stored rows). Asking for more would be answered with empty buckets for what the engine no longer holds.
/// </summary>
public static class LiveRetention
{
    /// <summary>The most buckets of any granularity (a day of minutes): the bound a count has before its granularity is known.</summary>
    public const int MostBuckets = 24 * 60;

    /// <summary>A day of minutes, 45 days of hours, 400 days.</summary>
    public static int MaxBuckets(Granularity granularity) => granularity switch
    {
        Granularity.Minute => MostBuckets,
        Granularity.Hour => 24 * 45,
        _ => 400,
    };

    /// <summary>The granularity a rolling window counts in; none for a period to date.</summary>
    public static Granularity? CountedIn(KpiWindowKind kind) => kind switch
    {
        KpiWindowKind.LastMinutes => Granularity.Minute,
        KpiWindowKind.LastHours => Granularity.Hour,
        KpiWindowKind.LastDays => Granularity.Day,
        _ => null,
    };
}

/// <summary>A rolling or period-to-date window; build one with the factory methods.</summary>
[GenerateSerializer, Immutable, Alias("ae.KpiWindow")]
public readonly record struct KpiWindow([property: Id(0)] KpiWindowKind Kind, [property: Id(1)] int Count)
{
    public static KpiWindow LastMinutes(int count) => new(KpiWindowKind.LastMinutes, Positive(count));

    public static KpiWindow LastHours(int count) => new(KpiWindowKind.LastHours, Positive(count));

    public static KpiWindow LastDays(int count) => new(KpiWindowKind.LastDays, Positive(count));

    public static KpiWindow DayToDate => new(KpiWindowKind.DayToDate, 1);

    public static KpiWindow WeekToDate => new(KpiWindowKind.WeekToDate, 1);

    public static KpiWindow MonthToDate => new(KpiWindowKind.MonthToDate, 1);

    public static KpiWindow QuarterToDate => new(KpiWindowKind.QuarterToDate, 1);

    public static KpiWindow YearToDate => new(KpiWindowKind.YearToDate, 1);

    /// <summary>The bucket granularity the window is composed of.</summary>
    public Granularity Granularity => Kind switch
    {
        KpiWindowKind.LastMinutes => Granularity.Minute,
        KpiWindowKind.LastHours => Granularity.Hour,
        _ => Granularity.Day,
    };

    private static int Positive(int count) =>
        count > 0 ? count : throw new ArgumentOutOfRangeException(nameof(count), count, "a window covers at least one bucket");
}
