using System.Globalization;
using System.Text.Json;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Ingest;
using AnalyticsEngine.Kpi;
using AnalyticsEngine.Query;

namespace AnalyticsEngine.Grains.Tests.Query;

/// <summary>A dashboard that subscribes now and a query for the current bucket see the same value.</summary>
[Collection(KpiClusterCollection.Name)]
public sealed class CurrentBucketTests(KpiClusterFixture fixture)
{
    [Fact]
    public async Task A_query_for_the_current_bucket_returns_what_a_new_subscriber_gets()
    {
        var clientId = "q-" + Guid.NewGuid().ToString("N")[..10];
        Assert.Empty(await fixture.Client.GetGrain<IClientConfigGrain>(clientId)
            .Put(new ClientConfig(clientId, "Current bucket", QueryScenario.TimeZone, ["POF", "OTD"], [], [], 0)));
        var now = DateTimeOffset.UtcNow;
        var orders = Enumerable.Range(0, 12).Select(i => new
        {
            order_id = $"c-{i}",
            ordered_at = now.AddMilliseconds(-10 * i).ToString("O", CultureInfo.InvariantCulture),
            order_value = 10.0,
            promised_at = now.AddDays(1).ToString("O", CultureInfo.InvariantCulture),
            on_time = i % 3 != 0,
            in_full = i % 4 != 0,
            damage_free = true,
            documentation_complete = true,
            status = "delivered",
        }).ToArray();
        var ingested = await fixture.Client.GetGrain<IIngestGrain>(IngestKeys.For(clientId, "orders"))
            .Ingest(new IngestRequest(IngestFormat.Json,
                JsonSerializer.SerializeToUtf8Bytes(orders), IngestPolicy.RejectBatch, null));
        Assert.Equal(IngestStatus.Committed, ingested.Status);
        await QueryScenario.WaitUntilAppliedAsync(fixture.Client, clientId, new Dictionary<string, long> { ["orders"] = ingested.ToSequence });

        foreach (var kpi in new[] { "POF", "OTD" })
        {
            var watcher = fixture.Client.CreateObjectReference<IKpiObserver>(new IgnoringObserver());
            var snapshot = await fixture.Client.GetGrain<IKpiGrain>(KpiGrainKeys.For(clientId, kpi)).Watch(watcher, Granularity.Minute, 1);
            var current = snapshot.Current!;
            var result = await fixture.Client.GetGrain<IKpiQueryGrain>(0).Calculate(
                new KpiQuery(clientId, kpi, current.BucketStart, current.BucketEnd, QueryGranularity.Minute));
            var queried = Assert.Single(Assert.Single(result.Series).Values);

            Assert.Equal(current.Value, queried.Value);
            Assert.Equal(current.EventCount, queried.EventCount);
            Assert.Equal(current.Components, queried.Components);
            Assert.Equal(current.AsOf, queried.AsOf);
            Assert.Equal(current.NewestEventTime, queried.NewestEventTime);
        }
    }

    private sealed class IgnoringObserver : IKpiObserver
    {
        public Task OnKpiChanged(KpiValue[] changes) => Task.CompletedTask;

        public Task OnWatchEnded(string clientId, string kpiCode, Granularity granularity) => Task.CompletedTask;

        public Task OnSeriesRedefined(string clientId, string kpiCode, Granularity granularity) => Task.CompletedTask;

        public Task OnSeriesEnded(string clientId, string kpiCode, Granularity granularity, string reason) => Task.CompletedTask;
    }
}
