using AnalyticsEngine.Clients;
using AnalyticsEngine.Query;
using Microsoft.Extensions.Logging.Abstractions;

namespace AnalyticsEngine.Grains.Tests.Query;

/// <summary>
/// PostgreSQL keeps times to the microsecond and a query's to 100 ns: a range's ends are rounded up to the
/// microsecond in SQL, so a row is counted exactly when it lies in the range as asked.
/// </summary>
[Collection(KpiClusterCollection.Name)]
public sealed class MicrosecondEdgeTests(KpiClusterFixture fixture)
{
    [Fact]
    public async Task A_range_between_two_microseconds_counts_a_row_exactly_when_it_lies_inside()
    {
        var clientId = "us-" + Guid.NewGuid().ToString("N")[..10];
        await new StoredRows(fixture.Database).OrdersAsync(clientId, 1, 1); // one order, at a whole second
        var at = StoredRows.End.AddSeconds(-97 * 90);
        var config = new ClientConfig(clientId, "Microseconds", "UTC", ["POF"], [], [], 0);
        var runner = new KpiQueryRunner(
            fixture.Database, new KpiQueryOptions { UseRollups = false, CacheDuration = TimeSpan.Zero }, TimeSpan.FromMinutes(5), NullLogger.Instance);
        async Task<long> EventsAsync(DateTimeOffset from, DateTimeOffset to) =>
            Assert.Single(Assert.Single((await runner.RunAsync(new KpiQuery(clientId, "POF", from, to, QueryGranularity.Range), config)).Series).Values).EventCount;

        Assert.Equal(1, await EventsAsync(at, at.AddHours(1)));
        Assert.Equal(0, await EventsAsync(at.AddTicks(5), at.AddHours(1))); // half a microsecond after it
        Assert.Equal(1, await EventsAsync(at.AddHours(-1), at.AddTicks(5)));
        Assert.Equal(0, await EventsAsync(at.AddHours(-1), at));
    }
}
