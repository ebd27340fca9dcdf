using System.Net.Http.Json;
using AnalyticsEngine.Kpi;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;

namespace AnalyticsEngine.Integration.Tests;

/// <summary>Compute once, fan out: many viewers of one series on one gateway cost one upstream watch.</summary>
[Collection(AnalyticsCollection.Name)]
public sealed class FanoutTests(AnalyticsFixture fixture)
{
    [Fact]
    public async Task Three_viewers_of_one_series_share_one_upstream_watch_that_ends_with_the_last_viewer()
    {
        var clientId = TestClients.NewId("fan");
        await TestClients.CreateAsync(fixture.Http, clientId);
        var minute = DateTimeOffset.UtcNow.AddMinutes(-3);
        minute = new DateTimeOffset(minute.Year, minute.Month, minute.Day, minute.Hour, minute.Minute, 0, TimeSpan.Zero);
        var orders = TestOrder.Random(12, minute, seed: 41);
        var kpiGrain = fixture.Gateway.Services.GetRequiredService<IClusterClient>().GetGrain<IKpiGrain>(KpiGrainKeys.For(clientId, "OTD"));

        var viewers = new List<HubConnection>();
        var received = new List<TaskCompletionSource<KpiValue>>();
        for (var i = 0; i < 3; i++)
        {
            var hub = await fixture.ConnectHubAsync();
            var arrived = new TaskCompletionSource<KpiValue>(TaskCreationOptions.RunContinuationsAsynchronously);
            hub.On<KpiValue[]>("kpiChanged", values =>
            {
                foreach (var v in values.Where(v => v.BucketStart == minute && v.EventCount == orders.Count))
                {
                    arrived.TrySetResult(v);
                }
            });
            await hub.InvokeAsync<KpiSnapshot>("Subscribe", clientId, "OTD", "minute");
            viewers.Add(hub);
            received.Add(arrived);
        }

        Assert.Equal(1, await kpiGrain.GetWatcherCount());
        (await fixture.Http.PostAsJsonAsync($"/ingest/orders?clientId={clientId}", orders)).EnsureSuccessStatusCode();

        var values = await Task.WhenAll(received.Select(r => r.Task.WaitAsync(TimeSpan.FromSeconds(30))));
        Assert.All(values, v => Assert.Equal(TestOrder.OnTimePercent(orders), v.Value!.Value, precision: 9));

        foreach (var hub in viewers)
        {
            await hub.InvokeAsync("Unsubscribe", clientId, "OTD", "minute");
            await hub.DisposeAsync();
        }

        Assert.Equal(0, await kpiGrain.GetWatcherCount());
    }
}
