using System.Net.Http.Json;
using System.Threading.Channels;
using AnalyticsEngine.Gateway.Security;
using AnalyticsEngine.Kpi;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Core.Internal;

namespace AnalyticsEngine.Integration.Tests;

/// <summary>Compute once, fan out: many viewers of one series on one gateway cost one upstream watch; gateways work side by side.</summary>
[Collection(AnalyticsCollection.Name)]
public sealed class FanoutTests(AnalyticsFixture fixture)
{
    [Fact]
    public async Task Three_viewers_of_one_series_share_one_upstream_watch_that_ends_with_the_last_viewer()
    {
        var clientId = TestClients.NewId("fan");
        await TestClients.CreateAsync(fixture.Http, clientId);
        var minute = TestOrder.MinuteStart(3);
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

    [Fact]
    public async Task Two_gateways_side_by_side_watch_a_series_once_each_and_both_deliver_every_change()
    {
        await using var second = fixture.CreateGateway();
        var token = fixture.Token(Roles.Admin, ClientAccess.AllClients);
        using var secondHttp = AnalyticsFixture.CreateClient(second, token);
        var clientId = TestClients.NewId("fan2");
        await TestClients.CreateAsync(fixture.Http, clientId, "Europe/Berlin", "SCOR_ORDER_COUNT");
        var minute = TestOrder.MinuteStart(3);
        var kpiGrain = fixture.Gateway.Services.GetRequiredService<IClusterClient>().GetGrain<IKpiGrain>(KpiGrainKeys.For(clientId, "SCOR_ORDER_COUNT"));

        // Each viewer reports the order count of the minute whenever a change reaches it.
        async Task<(HubConnection Hub, Func<double, Task> Sees)> ViewAsync(Task<HubConnection> connecting)
        {
            var hub = await connecting;
            var seen = Channel.CreateUnbounded<double>(new UnboundedChannelOptions { SingleReader = true });
            hub.On<KpiValue[]>("kpiChanged", values =>
            {
                foreach (var v in values.Where(v => v.BucketStart == minute && v.Value is not null))
                {
                    seen.Writer.TryWrite(v.Value!.Value);
                }
            });
            await hub.InvokeAsync<KpiSnapshot>("Subscribe", clientId, "SCOR_ORDER_COUNT", "minute");
            return (hub, async expected =>
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                while (await seen.Reader.ReadAsync(timeout.Token) != expected)
                {
                }
            });
        }

        var (onFirst, firstSees) = await ViewAsync(fixture.ConnectHubAsync(token));
        var (onSecond, secondSees) = await ViewAsync(AnalyticsFixture.ConnectHubAsync(second, token));
        Assert.Equal(2, await kpiGrain.GetWatcherCount()); // one upstream watch per gateway

        // An order posted through either gateway reaches the viewers of both.
        (await secondHttp.PostAsJsonAsync($"/ingest/orders?clientId={clientId}", TestOrder.Random(5, minute, seed: 7))).EnsureSuccessStatusCode();
        await Task.WhenAll(firstSees(5), secondSees(5));

        // The first gateway's last viewer leaves: its watch ends, the second gateway's goes on.
        await onFirst.InvokeAsync("Unsubscribe", clientId, "SCOR_ORDER_COUNT", "minute");
        await onFirst.DisposeAsync();
        Assert.Equal(1, await kpiGrain.GetWatcherCount());
        (await fixture.Http.PostAsJsonAsync($"/ingest/orders?clientId={clientId}", TestOrder.Random(3, minute, seed: 8))).EnsureSuccessStatusCode();
        await secondSees(8);

        await onSecond.InvokeAsync("Unsubscribe", clientId, "SCOR_ORDER_COUNT", "minute");
        await onSecond.DisposeAsync();
        Assert.Equal(0, await kpiGrain.GetWatcherCount());
    }

    [Fact]
    public async Task A_kpi_grain_that_deactivates_is_watched_again_at_once_and_its_changes_keep_coming()
    {
        var clientId = TestClients.NewId("moved");
        await TestClients.CreateAsync(fixture.Http, clientId);
        var minute = TestOrder.MinuteStart(2);
        var orders = TestOrder.Random(8, minute, seed: 43);
        var kpiGrain = fixture.Gateway.Services.GetRequiredService<IClusterClient>().GetGrain<IKpiGrain>(KpiGrainKeys.For(clientId, "OTD"));
        await using var hub = await fixture.ConnectHubAsync();
        var arrived = new TaskCompletionSource<KpiValue>(TaskCreationOptions.RunContinuationsAsynchronously);
        hub.On<KpiValue[]>("kpiChanged", values =>
        {
            foreach (var v in values.Where(v => v.BucketStart == minute && v.EventCount == orders.Count))
            {
                arrived.TrySetResult(v);
            }
        });
        await hub.InvokeAsync<KpiSnapshot>("Subscribe", clientId, "OTD", "minute");
        Assert.Equal(1, await kpiGrain.GetWatcherCount());

        // As when its silo leaves: the activation and the watchers it held are gone.
        await kpiGrain.AsReference<IGrainManagementExtension>().DeactivateOnIdle();

        // The gateway watches the next activation at once, well before its renewal round (every 30 s).
        await Eventually.HoldsAsync(async () => await kpiGrain.GetWatcherCount() == 1, TimeSpan.FromSeconds(10),
            () => "the KPI grain's next activation has no watcher");
        (await fixture.Http.PostAsJsonAsync($"/ingest/orders?clientId={clientId}", orders)).EnsureSuccessStatusCode();
        var value = await arrived.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(TestOrder.OnTimePercent(orders), value.Value!.Value, precision: 9);
    }

    [Fact]
    public async Task When_a_silo_connection_is_lost_every_watch_is_renewed_at_once()
    {
        var clientId = TestClients.NewId("lost");
        await TestClients.CreateAsync(fixture.Http, clientId);
        var fanout = fixture.Gateway.Services.GetRequiredService<AnalyticsEngine.Gateway.Streaming.KpiFanout>();
        var kpiGrain = fixture.Gateway.Services.GetRequiredService<IClusterClient>().GetGrain<IKpiGrain>(KpiGrainKeys.For(clientId, "OTD"));
        await using var hub = await fixture.ConnectHubAsync();
        await hub.InvokeAsync<KpiSnapshot>("Subscribe", clientId, "OTD", "minute");

        // As when the grain's silo crashed: its next activation knows no watcher, and nobody told the gateway.
        await kpiGrain.Unwatch(fanout.Reference, Granularity.Minute);
        Assert.Equal(0, await kpiGrain.GetWatcherCount());
        fanout.OnGatewayCountChanged(new GatewayCountChangedEventArgs(1, 2));

        await Eventually.HoldsAsync(async () => await kpiGrain.GetWatcherCount() == 1, TimeSpan.FromSeconds(10),
            () => "the watch was not renewed after the gateway count fell");
    }

    [Fact]
    public async Task A_push_lost_on_the_way_reaches_viewers_with_the_next_renewal_once()
    {
        var clientId = TestClients.NewId("repair");
        await TestClients.CreateAsync(fixture.Http, clientId);
        var cluster = fixture.Gateway.Services.GetRequiredService<IClusterClient>();
        var fanout = fixture.Gateway.Services.GetRequiredService<AnalyticsEngine.Gateway.Streaming.KpiFanout>();
        var kpiGrain = cluster.GetGrain<IKpiGrain>(KpiGrainKeys.For(clientId, "OTD"));
        var minute = TestOrder.MinuteStart(2); // not the current bucket: a renewal used to resend that one alone
        var orders = TestOrder.Random(4, minute, seed: 61);
        await using var hub = await fixture.ConnectHubAsync();
        var copy = new SeriesCopy();
        hub.On<KpiValue[]>("kpiChanged", copy.ApplyPush);
        copy.ApplySnapshot(await hub.InvokeAsync<KpiSnapshot>("Subscribe", clientId, "OTD", "minute"));
        (await fixture.Http.PostAsJsonAsync($"/ingest/orders?clientId={clientId}", orders)).EnsureSuccessStatusCode();
        await Eventually.HoldsAsync(() => copy.Get(minute)?.EventCount == 4, TimeSpan.FromSeconds(10), () => "the first push did not arrive");

        // As when a push is lost (a one-way call, its silo leaving): the KPI grain no longer knows the gateway. The
        // gateway's own renewals (every 30 s, and one after an earlier test's lost connection settles) may watch it
        // again before the next orders' push: then the push is not lost, and the loss is made again.
        List<TestOrder> all = [.. orders];
        for (var attempt = 0; ; attempt++)
        {
            await kpiGrain.Unwatch(fanout.Reference, Granularity.Minute);
            var more = TestOrder.Random(3, minute, seed: 62 + attempt);
            all.AddRange(more);
            (await fixture.Http.PostAsJsonAsync($"/ingest/orders?clientId={clientId}", more)).EnsureSuccessStatusCode();
            await Eventually.HoldsAsync(
                async () => (await cluster.GetGrain<IClientKpiGrain>(clientId).GetSnapshot("OTD", Granularity.Minute, 5)).Recent.Any(v => v.BucketStart == minute && v.EventCount == all.Count),
                TimeSpan.FromSeconds(10), () => "the computation did not take the next orders");
            if (copy.Get(minute)!.EventCount < all.Count)
            {
                break;
            }

            Assert.True(attempt < 3, "a renewal of the gateway's own watched the KPI again before every push that was to be lost");
        }

        fanout.OnGatewayCountChanged(new GatewayCountChangedEventArgs(1, 2));

        await Eventually.HoldsAsync(() => copy.Get(minute)?.EventCount == all.Count, TimeSpan.FromSeconds(10), () => "the renewal did not repair the lost push");
        Assert.Equal(TestOrder.OnTimePercent(all), copy.Get(minute)!.Value!.Value, precision: 9);
        Assert.Empty(copy.Duplicates());
    }
}
