using System.Globalization;
using System.Text.Json;
using AnalyticsEngine.Catalog;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Ingest;
using AnalyticsEngine.Kpi;
using AnalyticsEngine.Query;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace AnalyticsEngine.Grains.Tests.Query;

/// <summary>
/// Values at the edges of a double's range give the query the stream's answer: a row's result past the range is no
/// value, one below it zero, a bucket's total past it "not a finite number" — where PostgreSQL's float8 raises 22003
/// and the query runs again with the engine's arithmetic (sql/0014). Buckets within range keep their values.
/// </summary>
[Collection(KpiClusterCollection.Name)]
public sealed class DoubleRangeTests(KpiClusterFixture fixture)
{
    private static readonly KpiDefinition[] Custom =
    [
        Kpi("DR_SUM", "sum(orders.order_value)"),
        Kpi("DR_SQUARES", "sum(orders.order_value * orders.order_value)"),
        Kpi("DR_TINY", "sum(orders.order_value * 1e-300 * 1e-300) + count(orders)"),
        Kpi("DR_RATIO", "sum(1e300 / orders.order_value) / count(orders)"),
        Kpi("DR_ROUND", "sum(round(orders.order_value * 1e-300, -15)) + count(orders)"),
    ];

    [Fact]
    public async Task Values_past_a_doubles_range_give_the_query_the_streams_answer_bucket_by_bucket()
    {
        var clientId = "dr-" + Guid.NewGuid().ToString("N")[..10];
        string[] kpis = ["POF", "SCOR_AVG_ORDER_VALUE", .. Custom.Select(k => k.Code)];
        Assert.Empty(await fixture.Client.GetGrain<IClientConfigGrain>(clientId).Put(new ClientConfig(clientId, "Double range", "UTC", kpis, Custom, [], 0)));
        var now = DateTimeOffset.UtcNow;
        var hour = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, 0, 0, TimeSpan.Zero);
        // An hour of ordinary values; one whose total and every square are past the range; one where one square and
        // one quotient are, but not its total, and a product is below it.
        (int Hour, double Value)[] orders =
        [
            (-3, 120.5), (-3, 80), (-3, 99.25),
            (-2, 1.7e308), (-2, 1.6e308),
            (-1, 1e200), (-1, 3), (-1, 1e-20),
        ];
        var rows = orders.Select((o, i) => new Dictionary<string, object?>
        {
            ["order_id"] = $"dr-{i}",
            ["ordered_at"] = hour.AddHours(o.Hour).AddMinutes(5 + i).ToString("O", CultureInfo.InvariantCulture),
            ["order_value"] = o.Value,
            ["promised_at"] = hour.AddDays(2).ToString("O", CultureInfo.InvariantCulture),
            ["on_time"] = i % 2 == 0, ["in_full"] = true, ["damage_free"] = true, ["documentation_complete"] = true,
            ["status"] = "delivered",
        }).ToArray();
        var committed = await fixture.Client.GetGrain<IIngestGrain>(IngestKeys.For(clientId, "orders"))
            .Ingest(new IngestRequest(IngestFormat.Json, JsonSerializer.SerializeToUtf8Bytes(rows), IngestPolicy.RejectBatch, null));
        Assert.True(committed.Status == IngestStatus.Committed, string.Join("; ", committed.Errors));
        await QueryScenario.WaitUntilAppliedAsync(fixture.Client, clientId, new Dictionary<string, long> { ["orders"] = committed.ToSequence });

        var stream = fixture.Client.GetGrain<IClientKpiGrain>(clientId);
        var mismatches = new List<string>();
        var answers = new Dictionary<string, IReadOnlyList<KpiValue>>(StringComparer.Ordinal);
        foreach (var kpi in kpis)
        {
            var snapshot = await stream.GetSnapshot(kpi, Granularity.Hour, 4);
            var result = await fixture.Client.GetGrain<IKpiQueryGrain>(0).Calculate(
                new KpiQuery(clientId, kpi, snapshot.Recent[0].BucketStart, snapshot.Recent[^1].BucketEnd, QueryGranularity.Hour));
            Assert.True(result.Error is null, $"{kpi}: {result.Error}");
            var values = answers[kpi] = Assert.Single(result.Series).Values;
            Assert.Equal(hour.AddHours(-3), values[0].BucketStart);
            for (var i = 0; i < values.Count; i++)
            {
                QueryConsistencyTests.Compare(kpi, snapshot.Recent[i], values[i], mismatches);
            }
        }

        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
        // The data reaches what it is meant to, bucket by bucket (0: three hours ago, 1: two, 2: one).
        Assert.Equal(299.75, answers["DR_SUM"][0].Value);
        Assert.Equal("the result is not a finite number", answers["DR_SUM"][1].NoValueReason); // a total past the range
        Assert.StartsWith("sum(orders.order_value * orders.order_value) has no value", answers["DR_SQUARES"][1].NoValueReason, StringComparison.Ordinal);
        Assert.Equal(2, answers["DR_SQUARES"][1].EventCount); // every row's square past the range
        Assert.Equal(9 + 1e-40, answers["DR_SQUARES"][2].Value); // 1e200's square past it, the others' not
        Assert.Equal(3, answers["DR_TINY"][2].Value); // every product below the range: 0, plus three orders
        Assert.Equal((1e300 / 1e200 + 1e300 / 3) / 3, answers["DR_RATIO"][2].Value); // 1e300 / 1e-20 past the range
        Assert.Equal(3, answers["DR_ROUND"][2].Value); // 3e-300 / 1e15, on the way to tens of thousands of trillions, below it

        // The answer with double arithmetic is kept: the next caller, no row having come since, is served it.
        var services = new ServiceCollection();
        services.AddHybridCache();
        services.AddOptions<KpiQueryOptions>();
        services.AddSingleton<KpiQueryCache>();
        await using var provider = services.BuildServiceProvider();
        var cache = provider.GetRequiredService<KpiQueryCache>();
        var runner = new KpiQueryRunner(fixture.Database, new KpiQueryOptions(), TimeSpan.FromMinutes(5), NullLogger.Instance, cache);
        var config = (await fixture.Client.GetGrain<IClientConfigGrain>(clientId).Get())!;
        var sum = new KpiQuery(clientId, "DR_SUM", hour.AddHours(-3), hour.AddHours(1), QueryGranularity.Hour);
        var first = await runner.RunAsync(sum, config);
        var second = await runner.RunAsync(sum, config);
        Assert.Equal((1, 1), (cache.Misses, cache.Hits));
        Assert.Equal(answers["DR_SUM"].Select(v => (v.Value, v.NoValueReason)), Assert.Single(second.Series).Values.Select(v => (v.Value, v.NoValueReason)));
        Assert.Equal(Assert.Single(first.Series).Values.Select(v => v.NoValueReason), second.Series[0].Values.Select(v => v.NoValueReason));

        // Callers of the same query at once share one run, that with double arithmetic included.
        var squares = sum with { KpiCode = "DR_SQUARES" };
        var together = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => runner.RunAsync(squares, config))));
        Assert.Equal((2, 4), (cache.Misses, cache.Hits));
        Assert.All(together, answer => Assert.Equal(answers["DR_SQUARES"].Select(v => v.NoValueReason), Assert.Single(answer.Series).Values.Select(v => v.NoValueReason)));
    }

    private static KpiDefinition Kpi(string code, string formula) =>
        new(code, code, "A custom KPI of the double range tests.", formula, "", KpiDirection.HigherIsBetter, ["orders"], "custom", "custom");
}
