namespace AnalyticsEngine.Kpi.Engine;

/// <summary>The engine keeps instants as Unix ticks (100 ns since 1970-01-01 UTC): cheap to compare, NodaTime-compatible.</summary>
internal static class TimeTicks
{
    private static readonly long UnixEpochTicks = DateTimeOffset.UnixEpoch.UtcTicks;

    public static long Of(DateTimeOffset time) => time.UtcTicks - UnixEpochTicks;

    public static DateTimeOffset ToDateTimeOffset(long unixTicks) => new(unixTicks + UnixEpochTicks, TimeSpan.Zero);
}
