using AnalyticsEngine.Clients;
using AnalyticsEngine.Query;
using Microsoft.Extensions.Logging.Abstractions;

namespace AnalyticsEngine.Grains.Tests.Query;

/// <summary>
/// A drill-down with more points than allowed is refused while its rows are read, not after they all are; one over a
/// range without rows has no series.
/// </summary>
[Collection(KpiClusterCollection.Name)]
public sealed class DrillDownPointsTests(KpiClusterFixture fixture)
{
    [Fact]
    public async Task A_drill_down_by_a_field_of_many_values_is_refused_at_the_first_value_past_the_limit()
    {
        var clientId = "pts-" + Guid.NewGuid().ToString("N")[..10];
        await new StoredRows(fixture.Database).OrdersAsync(clientId, 1, 400); // every order its own order_id, over two days
        var config = new ClientConfig(clientId, "Points", "UTC", ["POF"], [], [], 0);
        var runner = new KpiQueryRunner(
            fixture.Database, new KpiQueryOptions { MaxPoints = 100, CacheDuration = TimeSpan.Zero }, TimeSpan.FromMinutes(5), NullLogger.Instance);

        var answer = await runner.RunAsync(new KpiQuery(clientId, "POF", StoredRows.End.AddDays(-1), StoredRows.End, QueryGranularity.Hour, "order_id"), config);

        // 24 hours: the fifth order id makes 120 points of the 100 allowed; the hundreds after it are never held.
        Assert.Equal(QueryErrorKind.TooManyPoints, answer.Error?.Kind);
        Assert.Contains("at least 5 values × 24 buckets = 120 points; at most 100", answer.Error!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_drill_down_over_a_range_without_rows_has_no_series_where_the_total_has_one_of_empty_buckets()
    {
        var clientId = "pts-" + Guid.NewGuid().ToString("N")[..10];
        await new StoredRows(fixture.Database).OrdersAsync(clientId, 1, 400); // over the two days before StoredRows.End
        var config = new ClientConfig(clientId, "Points", "UTC", ["POF"], [], [], 0);
        var runner = new KpiQueryRunner(fixture.Database, new KpiQueryOptions(), TimeSpan.FromMinutes(5), NullLogger.Instance);
        var empty = new KpiQuery(clientId, "POF", StoredRows.End.AddDays(-10), StoredRows.End.AddDays(-9), QueryGranularity.Hour);

        var total = await runner.RunAsync(empty, config);
        var byCarrier = await runner.RunAsync(empty with { Dimension = "carrier" }, config);

        Assert.All(Assert.Single(total.Series).Values, v => Assert.Equal(0, v.EventCount));
        Assert.Null(byCarrier.Error);
        Assert.Empty(byCarrier.Series);
    }
}
