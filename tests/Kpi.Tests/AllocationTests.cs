using AnalyticsEngine.Ingest;
using AnalyticsEngine.Kpi.Engine;
using NodaTime;

namespace AnalyticsEngine.Kpi.Tests;

public class AllocationTests
{
    [Fact]
    public void Applying_events_to_existing_buckets_allocates_nothing()
    {
        var kpis = new[]
        {
            TestModels.Kpi("POF", "100 * count(orders) filter (where orders.on_time and orders.in_full) / count(orders)"),
            TestModels.Kpi("AOV", "round(avg(orders.value), 2)"),
            TestModels.Kpi("MAX", "max(orders.value) - min(orders.value)"),
            TestModels.Kpi("CUST", "count_distinct(orders.customer) filter (where orders.status in ('Paid', 'Pending'))"),
            TestModels.Kpi("LATE", "count(orders) filter (where orders.delivered_at > orders.promised_at or orders.delivered_at is null)"),
            TestModels.Kpi("VALUES", "count_distinct(orders.value)"),
        };
        var engine = new ClientKpiEngine("c", DateTimeZoneProviders.Tzdb["Europe/Berlin"], kpis, TestModels.All, new KpiEngineOptions());
        var start = new DateTimeOffset(2026, 6, 10, 12, 0, 0, TimeSpan.Zero);
        string[] customers = ["a", "b", "c"];
        string[] statuses = ["Paid", "Pending", "Void"];
        var rows = Enumerable.Range(1, 20_000)
            .Select(i => TestModels.Order(i, start.AddMilliseconds(i % 50_000), value: i % 7, onTime: i % 2 == 0, inFull: i % 3 == 0, status: statuses[i % 3], customer: customers[i % 3]))
            .Chunk(100)
            .ToArray();

        // Warm up: creates the buckets, parts and distinct sets the rest of the rows fall into.
        engine.Apply("orders", rows[0]);

        // The rest in three passes. An allocation per event shows in every pass; one-time work on this thread that is
        // not the engine's (most likely the runtime moving a method to optimized code while the loop runs) showed once,
        // in one full run with other test classes running alongside (5,656 bytes), and is tolerated in one pass.
        var passes = rows.Skip(1).Chunk((rows.Length + 2) / 3).Select(pass =>
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            foreach (var chunk in pass)
            {
                engine.Apply("orders", chunk);
            }

            return GC.GetAllocatedBytesForCurrentThread() - before;
        }).ToArray();

        Assert.Equal(3, passes.Length);
        Assert.True(passes.Min() == 0, $"bytes allocated per pass: {string.Join(", ", passes)}");
        Assert.Equal(20_000, engine.Position("orders"));
        Assert.Equal(20_000, engine.Snapshot("POF", Granularity.Minute, 1, Instant.FromDateTimeOffset(start)).Current!.EventCount);
    }
}
