using System.Net.Http.Json;
using System.Text.Json;
using AnalyticsEngine.Kpi;
using Microsoft.AspNetCore.SignalR.Client;

namespace AnalyticsEngine.Integration.Tests;

/// <summary>Orders posted over HTTP come back as KPI values over SignalR and HTTP, equal to an independent computation.</summary>
[Collection(AnalyticsCollection.Name)]
public sealed class PipelineTests(AnalyticsFixture fixture)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web) { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.CamelCase) } };

    [Fact]
    public async Task Posted_orders_are_pushed_to_a_subscribed_dashboard_with_the_independently_computed_value()
    {
        var clientId = TestClients.NewId("pipe");
        await TestClients.CreateAsync(fixture.Http, clientId);
        var minute = TruncateToMinute(DateTimeOffset.UtcNow.AddMinutes(-10));
        var orders = TestOrder.Random(40, minute, seed: 11);

        await using var hub = await fixture.ConnectHubAsync();
        var complete = new TaskCompletionSource<KpiValue>(TaskCreationOptions.RunContinuationsAsynchronously);
        hub.On<KpiValue[]>("kpiChanged", values =>
        {
            foreach (var value in values)
            {
                if (value.KpiCode == "POF" && value.BucketStart == minute && value.EventCount == orders.Count)
                {
                    complete.TrySetResult(value);
                }
            }
        });
        var snapshot = await hub.InvokeAsync<KpiSnapshot>("Subscribe", clientId, "POF", "minute");
        Assert.Equal("POF", snapshot.KpiCode);
        Assert.DoesNotContain(snapshot.Recent, v => v.EventCount > 0);

        // Two batches, so the bucket is updated incrementally rather than computed once.
        await PostAsync(clientId, orders[..25]);
        await PostAsync(clientId, orders[25..]);

        var pushed = await complete.Task.WaitAsync(Patience);
        Assert.Equal(TestOrder.PerfectOrderPercent(orders), pushed.Value!.Value, precision: 9);
        Assert.Equal(minute.AddMinutes(1), pushed.BucketEnd);
        Assert.True(pushed.Revision >= 2, $"revision {pushed.Revision} should count both batches");
        Assert.Contains(pushed.AsOf, p => p.ObjectModel == "orders" && p.Sequence == orders.Count);
        Assert.Equal(orders.Max(o => o.ordered_at), pushed.NewestEventTime);
    }

    [Fact]
    public async Task Http_snapshot_returns_the_same_values_as_an_independent_computation_for_minute_and_hour()
    {
        var clientId = TestClients.NewId("http");
        await TestClients.CreateAsync(fixture.Http, clientId, "America/New_York");
        var minute = TruncateToMinute(DateTimeOffset.UtcNow.AddMinutes(-3));
        var orders = TestOrder.Random(30, minute, seed: 5);
        await PostAsync(clientId, orders);

        var otd = await WaitForBucketAsync(clientId, "OTD", "minute", minute, orders.Count);
        Assert.Equal(TestOrder.OnTimePercent(orders), otd.Value!.Value, precision: 9);
        Assert.Equal(Granularity.Minute, otd.Granularity);

        var hourStart = minute.AddMinutes(-minute.Minute);
        var pof = await WaitForBucketAsync(clientId, "POF", "hour", hourStart, orders.Count);
        Assert.Equal(TestOrder.PerfectOrderPercent(orders), pof.Value!.Value, precision: 9);
        Assert.Equal(hourStart.AddHours(1), pof.BucketEnd);
    }

    [Fact]
    public async Task Rolling_windows_merge_buckets_into_the_value_of_all_their_events()
    {
        var clientId = TestClients.NewId("win");
        await TestClients.CreateAsync(fixture.Http, clientId, "Asia/Kolkata");
        var early = TestOrder.Random(15, TruncateToMinute(DateTimeOffset.UtcNow.AddMinutes(-40)), seed: 31);
        var late = TestOrder.Random(15, TruncateToMinute(DateTimeOffset.UtcNow.AddMinutes(-5)), seed: 32).Select((o, i) => o with { order_id = $"w-{i}" }).ToList();
        await PostAsync(clientId, early);
        await PostAsync(clientId, late);
        var all = early.Concat(late).ToList();

        await WaitForBucketAsync(clientId, "POF", "minute", late[0].ordered_at.AddSeconds(-late[0].ordered_at.Second), late.Count);
        var hour = await fixture.Http.GetFromJsonAsync<KpiValue>($"/clients/{clientId}/kpis/POF/window?kind=lastMinutes&count=60", Web);
        var tenMinutes = await fixture.Http.GetFromJsonAsync<KpiValue>($"/clients/{clientId}/kpis/POF/window?kind=lastMinutes&count=10", Web);
        using var invalid = await fixture.Http.GetAsync($"/clients/{clientId}/kpis/POF/window?kind=fortnight");

        Assert.Equal(all.Count, hour!.EventCount);
        Assert.Equal(TestOrder.PerfectOrderPercent(all), hour.Value!.Value, precision: 9);
        Assert.Equal(late.Count, tenMinutes!.EventCount);
        Assert.Equal(TestOrder.PerfectOrderPercent(late), tenMinutes.Value!.Value, precision: 9);
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, invalid.StatusCode);
    }

    private Task PostAsync(string clientId, IEnumerable<TestOrder> orders) => TestClients.PostOrdersAsync(fixture.Http, clientId, orders);

    /// <summary>Polls the HTTP snapshot until the bucket holds all events (the pipeline is asynchronous), then returns it.</summary>
    private async Task<KpiValue> WaitForBucketAsync(string clientId, string kpi, string granularity, DateTimeOffset bucketStart, int events)
    {
        using var timeout = new CancellationTokenSource(Patience);
        while (true)
        {
            var snapshot = await fixture.Http.GetFromJsonAsync<KpiSnapshot>(
                $"/clients/{clientId}/kpis/{kpi}?granularity={granularity}&recent=120", Web, timeout.Token);
            var bucket = snapshot!.Recent.FirstOrDefault(v => v.BucketStart == bucketStart);
            if (bucket is not null && bucket.EventCount == events)
            {
                return bucket;
            }

            await Task.Delay(50, timeout.Token);
        }
    }

    private static DateTimeOffset TruncateToMinute(DateTimeOffset t) => new(t.Year, t.Month, t.Day, t.Hour, t.Minute, 0, TimeSpan.Zero);
}
