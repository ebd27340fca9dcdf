using System.Globalization;
using System.Text.Json;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Ingest;
using AnalyticsEngine.Query;
using Microsoft.Extensions.Logging.Abstractions;

namespace AnalyticsEngine.Grains.Tests.Query;

/// <summary>
/// A client with a small share of a table shared by many is read through the index, with the planner's sequential
/// scans and JIT turned off for the statement, and the answer is still right (the rule itself: TenantShareTests).
/// </summary>
[Collection(KpiClusterCollection.Name)]
public sealed class TenantShareQueryTests(KpiClusterFixture fixture)
{
    [Fact]
    public async Task A_small_client_of_a_shared_table_is_read_through_the_index_and_answers_the_same()
    {
        var clientId = "ts-" + Guid.NewGuid().ToString("N")[..10];
        Assert.Empty(await fixture.Client.GetGrain<IClientConfigGrain>(clientId)
            .Put(new ClientConfig(clientId, "Tenant share", "UTC", ["SCOR_ORDER_COUNT"], [], [], 0)));
        var config = (await fixture.Client.GetGrain<IClientConfigGrain>(clientId).Get())!;
        var hour = DateTimeOffset.UtcNow.AddHours(-30);
        hour = new DateTimeOffset(hour.Year, hour.Month, hour.Day, hour.Hour, 0, 0, TimeSpan.Zero);
        // Ten orders an hour for 30 hours, then a filler client so the table surely holds many more rows than this one.
        await IngestAsync(clientId, Enumerable.Range(0, 300).Select(i => hour.AddMinutes(6 * i)));
        var filler = "ts-filler-" + Guid.NewGuid().ToString("N")[..8];
        Assert.Empty(await fixture.Client.GetGrain<IClientConfigGrain>(filler)
            .Put(new ClientConfig(filler, "Tenant share filler", "UTC", ["SCOR_ORDER_COUNT"], [], [], 0)));
        await IngestAsync(filler, Enumerable.Range(0, 6000).Select(i => hour.AddSeconds(18 * i)));
        await using (var analyze = fixture.Database.CreateCommand("ANALYZE scor_data.orders"))
        {
            await analyze.ExecuteNonQueryAsync();
        }

        var runner = new KpiQueryRunner(fixture.Database, new KpiQueryOptions { UseRollups = false, CacheDuration = TimeSpan.Zero }, TimeSpan.FromMinutes(5), NullLogger.Instance);
        var day = await runner.RunAsync(new KpiQuery(clientId, "SCOR_ORDER_COUNT", hour.AddHours(6), hour.AddHours(30), QueryGranularity.Hour), config);
        Assert.Null(day.Error);
        Assert.True(runner.LastRunReadThroughIndex);
        var values = Assert.Single(day.Series).Values;
        Assert.Equal(24, values.Count);
        Assert.All(values, v => Assert.Equal(10, v.Value));
        Assert.All(values, v => Assert.Equal(10, v.EventCount));
    }

    private async Task IngestAsync(string clientId, IEnumerable<DateTimeOffset> times)
    {
        var orders = times.Select((at, i) => new
        {
            order_id = $"ts-{i}",
            ordered_at = at.ToString("O", CultureInfo.InvariantCulture),
            order_value = 10.0,
            promised_at = at.AddDays(1).ToString("O", CultureInfo.InvariantCulture),
            on_time = true,
            in_full = true,
            damage_free = true,
            documentation_complete = true,
            status = "delivered",
        }).ToArray();
        var ingested = await fixture.Client.GetGrain<IIngestGrain>(IngestKeys.For(clientId, "orders"))
            .Ingest(new IngestRequest(IngestFormat.Json, JsonSerializer.SerializeToUtf8Bytes(orders), IngestPolicy.RejectBatch, null));
        Assert.Equal(IngestStatus.Committed, ingested.Status);
    }
}
