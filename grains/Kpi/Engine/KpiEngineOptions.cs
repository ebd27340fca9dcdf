namespace AnalyticsEngine.Kpi.Engine;

/// <summary>Tuning of <see cref="ClientKpiEngine"/>: lateness and how many buckets each granularity keeps.</summary>
public sealed class KpiEngineOptions
{
    /// <summary>A bucket becomes final this long after its end; later events still correct it.</summary>
    public TimeSpan AllowedLateness { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Minute buckets kept back from the current one (default 48 hours).</summary>
    public int MinuteBucketsKept { get; set; } = 48 * 60;

    /// <summary>Hour buckets kept (default 45 days).</summary>
    public int HourBucketsKept { get; set; } = 24 * 45;

    /// <summary>Day buckets kept (default 400 days, enough for year-to-date).</summary>
    public int DayBucketsKept { get; set; } = 400;

    internal int Kept(Granularity granularity) => granularity switch
    {
        Granularity.Minute => MinuteBucketsKept,
        Granularity.Hour => HourBucketsKept,
        _ => DayBucketsKept,
    };
}
