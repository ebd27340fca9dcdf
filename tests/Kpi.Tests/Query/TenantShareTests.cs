using AnalyticsEngine.Kpi.Engine;
using AnalyticsEngine.Query;

namespace AnalyticsEngine.Kpi.Tests.Query;

/// <summary>When a query reads the client's rows through the index rather than letting the planner scan the table.</summary>
public sealed class TenantShareTests
{
    private static readonly long YearAgo = TimeTicks.Of(new DateTimeOffset(2025, 11, 27, 0, 0, 0, TimeSpan.Zero));
    private static readonly long Now = TimeTicks.Of(new DateTimeOffset(2026, 11, 27, 0, 0, 0, TimeSpan.Zero));
    private static readonly long Day = TimeSpan.TicksPerDay;

    [Fact]
    public void One_day_of_a_client_spread_over_a_year_is_a_small_part_of_a_table_it_shares()
    {
        // 10 million rows over a year, 20 million of another client: a day is ~27,000 rows of 30 million.
        Assert.True(TenantShare.ReadThroughIndex(10_000_000, YearAgo, Now, Now - Day, Now, 30_000_000));
        // Thirty days, ~820,000 rows: still under a tenth.
        Assert.True(TenantShare.ReadThroughIndex(10_000_000, YearAgo, Now, Now - 30 * Day, Now, 30_000_000));
    }

    [Fact]
    public void A_table_mostly_the_clients_own_is_left_to_the_planner_whose_statistics_describe_the_client()
    {
        Assert.False(TenantShare.ReadThroughIndex(10_000_000, YearAgo, Now, Now - Day, Now, 10_000_000));
        Assert.False(TenantShare.ReadThroughIndex(10_000_000, YearAgo, Now, Now - 30 * Day, Now, 19_000_000));
        Assert.True(TenantShare.ReadThroughIndex(10_000_000, YearAgo, Now, Now - 30 * Day, Now, 21_000_000));
    }

    [Fact]
    public void Most_of_the_table_is_left_to_the_planner()
    {
        // The client's whole year in a table of its own, or a third of a shared one.
        Assert.False(TenantShare.ReadThroughIndex(10_000_000, YearAgo, Now, YearAgo, Now, 10_000_000));
        Assert.False(TenantShare.ReadThroughIndex(10_000_000, YearAgo, Now, YearAgo - Day, Now + Day, 30_000_000));
        // A snapshot object's query reads everything before the range's end.
        Assert.False(TenantShare.ReadThroughIndex(10_000_000, YearAgo, Now, long.MinValue, Now, 20_000_000));
    }

    [Fact]
    public void A_range_outside_the_clients_rows_reads_nothing_and_goes_through_the_index()
    {
        Assert.True(TenantShare.ReadThroughIndex(10_000_000, YearAgo, Now - 30 * Day, Now - Day, Now, 30_000_000));
        Assert.True(TenantShare.ReadThroughIndex(10_000_000, YearAgo, Now, YearAgo - 30 * Day, YearAgo - Day, 30_000_000));
    }

    [Theory]
    [InlineData(0, 1_000_000.0)] // the client has no rows
    [InlineData(1_000, -1.0)] // the table was never analyzed
    [InlineData(1_000, 0.0)]
    public void Nothing_known_leaves_the_planner_free(long clientRows, double tableRows)
    {
        Assert.False(TenantShare.ReadThroughIndex(clientRows, YearAgo, Now, Now - Day, Now, tableRows));
    }

    [Fact]
    public void A_client_whose_rows_share_one_instant_counts_them_all_when_the_range_holds_it()
    {
        Assert.False(TenantShare.ReadThroughIndex(400_000, Now - Day, Now - Day, Now - 2 * Day, Now, 1_000_000));
        Assert.True(TenantShare.ReadThroughIndex(400_000, Now - Day, Now - Day, Now - Day + 1, Now, 1_000_000));
    }

    [Fact]
    public void The_clients_rows_in_a_range_are_its_share_of_the_time_they_span_and_only_a_long_range_is_worth_jit()
    {
        var year = Now - YearAgo;
        var thirtyDays = TenantShare.RowsInRange(10_000_000, YearAgo, Now, Now - 30 * Day, Now);
        Assert.Equal(10_000_000 * (30.0 * Day / (year + 1)), thirtyDays, 1e-6);
        Assert.Equal(10_000_000, TenantShare.RowsInRange(10_000_000, YearAgo, Now, YearAgo - Day, Now + Day));
        Assert.Equal(0, TenantShare.RowsInRange(10_000_000, YearAgo, Now, Now + Day, Now + 2 * Day));
        Assert.Equal(0, TenantShare.RowsInRange(0, YearAgo, Now, YearAgo, Now));

        Assert.True(thirtyDays < TenantShare.JitFromRows);
        Assert.True(TenantShare.RowsInRange(10_000_000, YearAgo, Now, YearAgo, Now) >= TenantShare.JitFromRows);
    }
}
