using AnalyticsEngine.Kpi;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;

namespace AnalyticsEngine.Integration.Tests;

/// <summary>
/// Operators scale the silos while dashboards watch: a silo joins, takes some clients' computations, and leaves again;
/// every dashboard goes on receiving its KPI, with each event counted once, without subscribing again.
/// </summary>
[Collection(AnalyticsCollection.Name)]
public sealed class SiloScaleTests(AnalyticsFixture fixture)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private readonly List<HubConnection> _hubs = [];

    private IClusterClient Cluster => fixture.Gateway.Services.GetRequiredService<IClusterClient>();

    [Fact]
    public async Task Dashboards_keep_receiving_exactly_once_when_a_silo_that_computes_for_them_leaves()
    {
        var management = Cluster.GetGrain<IManagementGrain>(0);
        var joined = await fixture.StartSiloAsync();
        var leaving = joined.Services.GetRequiredService<ILocalSiloDetails>().SiloAddress;
        try
        {
            await Eventually.HoldsAsync(async () => (await management.GetHosts(onlyActive: true)).Count == 2, Patience,
                () => "the second silo did not join");

            // Clients until two clients' computations or KPI fan-outs run on the joined silo: placement decides where,
            // and takes the joined silo into account once its load statistics have reached the others (a few seconds).
            var minute = TestOrder.MinuteStart(1);
            var viewers = new List<Viewer>();
            var placing = System.Diagnostics.Stopwatch.StartNew();
            for (var seed = 700; viewers.Count(v => v.OnLeavingSilo) < 2 && placing.Elapsed < Patience; seed++)
            {
                var viewer = await WatchNewClientAsync(minute, seed);
                var onLeavingSilo = await management.GetActivationAddress(Cluster.GetGrain<IClientKpiGrain>(viewer.ClientId)) == leaving
                    || await management.GetActivationAddress(Cluster.GetGrain<IKpiGrain>(KpiGrainKeys.For(viewer.ClientId, "OTD"))) == leaving;
                // Those on the leaving silo, and two that stay where they are.
                if (onLeavingSilo || viewers.Count(v => !v.OnLeavingSilo) < 2)
                {
                    viewers.Add(viewer with { OnLeavingSilo = onLeavingSilo });
                }
            }

            Assert.True(viewers.Count(v => v.OnLeavingSilo) == 2, $"fewer than two clients' grains were placed on the joined silo in {placing.Elapsed}");

            // Scaling in: the silo hands its activations back and leaves the cluster.
            await joined.StopAsync();
            await Eventually.HoldsAsync(async () => (await management.GetHosts(onlyActive: true)).Count == 1, Patience,
                () => "the second silo did not leave");

            foreach (var (viewer, i) in viewers.Select((v, i) => (v, i)))
            {
                var more = TestOrder.Random(3, minute, seed: 800 + i);
                viewer.Orders.AddRange(more);
                await PostAsync(viewer.ClientId, more);
            }

            foreach (var viewer in viewers)
            {
                // Sooner than the gateway's renewal round (30 s), which would repair a lost push: the series goes on by itself.
                await Eventually.HoldsAsync(() => viewer.Copy.Get(minute)?.EventCount == viewer.Orders.Count, TimeSpan.FromSeconds(20),
                    () => $"{viewer.ClientId} (its grains on the leaving silo: {viewer.OnLeavingSilo}): the dashboard holds {viewer.Copy.Get(minute)?.EventCount ?? 0} events of {viewer.Orders.Count}");
                Assert.Equal(TestOrder.OnTimePercent(viewer.Orders), viewer.Copy.Get(minute)!.Value!.Value, precision: 9);
                Assert.Empty(viewer.Copy.Duplicates());
            }
        }
        finally
        {
            await joined.DisposeAsync();
            foreach (var hub in _hubs)
            {
                await hub.DisposeAsync();
            }
        }
    }

    private sealed record Viewer(string ClientId, SeriesCopy Copy, List<TestOrder> Orders, bool OnLeavingSilo = false);

    /// <summary>A new client with a dashboard watching its OTD by minute, which has seen the client's first orders.</summary>
    private async Task<Viewer> WatchNewClientAsync(DateTimeOffset minute, int seed)
    {
        var clientId = TestClients.NewId("scale");
        await TestClients.CreateAsync(fixture.Http, clientId);
        var hub = await fixture.ConnectHubAsync();
        _hubs.Add(hub);
        var copy = new SeriesCopy();
        hub.On<KpiValue[]>("kpiChanged", copy.ApplyPush);
        copy.ApplySnapshot(await hub.InvokeAsync<KpiSnapshot>("Subscribe", clientId, "OTD", "minute"));
        var orders = TestOrder.Random(4, minute, seed);
        await PostAsync(clientId, orders);
        await Eventually.HoldsAsync(() => copy.Get(minute)?.EventCount == orders.Count, Patience,
            () => $"{clientId}: the dashboard did not see the first orders");
        return new Viewer(clientId, copy, orders);
    }

    private Task PostAsync(string clientId, IEnumerable<TestOrder> orders) => TestClients.PostOrdersAsync(fixture.Http, clientId, orders);
}
