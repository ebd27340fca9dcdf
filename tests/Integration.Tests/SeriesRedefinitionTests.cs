using System.Net;
using System.Net.Http.Json;
using AnalyticsEngine.Gateway.Streaming;
using AnalyticsEngine.Kpi;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;

namespace AnalyticsEngine.Integration.Tests;

/// <summary>
/// A dashboard watching a KPI whose meaning changes is told: a changed formula or time zone sends the rebuilt series
/// in place of what it holds (<c>kpiReset</c>), a deleted or deselected KPI ends its series with the reason (<c>kpiEnded</c>).
/// </summary>
[Collection(AnalyticsCollection.Name)]
public sealed class SeriesRedefinitionTests(AnalyticsFixture fixture)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private const string BigShare = "100 * count(orders) filter (where orders.order_value > 500) / count(orders)";

    [Fact]
    public async Task Every_viewer_of_a_kpi_whose_formula_changed_gets_the_rebuilt_series_and_then_its_new_values()
    {
        var clientId = TestClients.NewId("redef");
        await TestClients.CreateAsync(fixture.Http, clientId);
        var minute = TestOrder.MinuteStart(5);
        var before = TestOrder.Random(20, minute, seed: 31);
        (await fixture.Http.PostAsJsonAsync($"/ingest/orders?clientId={clientId}", before)).EnsureSuccessStatusCode();
        // Created after the orders are stored: the KPI is computed from them before the call returns.
        await PutCustomKpiAsync(clientId, "SHARE", BigShare, creating: true);

        await using var first = await fixture.ConnectHubAsync();
        await using var second = await fixture.ConnectHubAsync();
        var resets = new[] { Expect<KpiSnapshot>(first, "kpiReset"), Expect<KpiSnapshot>(second, "kpiReset") };
        foreach (var hub in new[] { first, second })
        {
            var snapshot = await hub.InvokeAsync<KpiSnapshot>("Subscribe", clientId, "SHARE", "minute");
            Assert.Equal(100.0 * before.Count(o => o.order_value > 500) / before.Count, snapshot.Recent.Single(v => v.BucketStart == minute).Value!.Value, precision: 9);
        }

        await PutCustomKpiAsync(clientId, "SHARE", "count(orders)", creating: false);

        foreach (var reset in resets)
        {
            var snapshot = await reset.WaitAsync(Patience);
            Assert.Equal(("SHARE", Granularity.Minute), (snapshot.KpiCode, snapshot.Granularity));
            // The same events, so the same revision as the value each viewer holds: only the reset replaces it.
            var rebuilt = snapshot.Recent.Single(v => v.BucketStart == minute);
            Assert.Equal(before.Count, rebuilt.Value);
            Assert.Equal(before.Count, rebuilt.Revision);
        }

        var pushed = new TaskCompletionSource<KpiValue>(TaskCreationOptions.RunContinuationsAsynchronously);
        first.On<KpiValue[]>("kpiChanged", values =>
        {
            foreach (var v in values.Where(v => v.BucketStart == minute && v.EventCount == 30))
            {
                pushed.TrySetResult(v);
            }
        });
        var after = TestOrder.Random(10, minute, seed: 32);
        (await fixture.Http.PostAsJsonAsync($"/ingest/orders?clientId={clientId}", after)).EnsureSuccessStatusCode();
        Assert.Equal(30, (await pushed.Task.WaitAsync(Patience)).Value);
    }

    [Fact]
    public async Task Another_time_zone_resets_the_series_onto_the_new_zones_buckets()
    {
        var clientId = TestClients.NewId("rezone");
        await TestClients.CreateAsync(fixture.Http, clientId, "Europe/Berlin", "OTD");
        await using var hub = await fixture.ConnectHubAsync();
        var reset = Expect<KpiSnapshot>(hub, "kpiReset");
        var held = await hub.InvokeAsync<KpiSnapshot>("Subscribe", clientId, "OTD", "hour");
        Assert.Equal(0, held.Current!.BucketStart.UtcDateTime.Minute);

        (await fixture.Http.PutAsJsonAsync($"/clients/{clientId}", new { name = "Test " + clientId, timeZone = "Asia/Kolkata", selectedKpis = new[] { "OTD" } }))
            .EnsureSuccessStatusCode();

        // Kolkata is 5:30 ahead of UTC: its hours start at half past, so no bucket the viewer held is one of them.
        var snapshot = await reset.WaitAsync(Patience);
        Assert.Equal(30, snapshot.Current!.BucketStart.UtcDateTime.Minute);
        Assert.All(snapshot.Recent, v => Assert.Equal(30, v.BucketStart.UtcDateTime.Minute));
    }

    [Fact]
    public async Task A_deleted_custom_kpi_ends_its_series_with_the_reason_and_leaves_no_viewer()
    {
        var clientId = TestClients.NewId("rdel");
        await TestClients.CreateAsync(fixture.Http, clientId);
        await PutCustomKpiAsync(clientId, "SHARE", BigShare, creating: true);
        await using var hub = await fixture.ConnectHubAsync();
        var ended = Expect<KpiSeriesEnded>(hub, "kpiEnded");
        await hub.InvokeAsync<KpiSnapshot>("Subscribe", clientId, "SHARE", "day");

        using (var deleted = await fixture.Http.DeleteAsync($"/clients/{clientId}/custom-kpis/SHARE"))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }

        var end = await ended.WaitAsync(Patience);
        Assert.Equal((clientId, "SHARE", Granularity.Day), (end.ClientId, end.KpiCode, end.Granularity));
        Assert.Equal($"KPI 'SHARE' was deleted from client '{clientId}'.", end.Reason);
        var fanout = fixture.Gateway.Services.GetRequiredService<KpiFanout>();
        Assert.False(fanout.IsViewing(hub.ConnectionId!, new WatchKey(clientId, "SHARE", Granularity.Day)));
        // The hub refuses it from now on, as any KPI the client does not select.
        await Assert.ThrowsAsync<HubException>(() => hub.InvokeAsync<KpiSnapshot>("Subscribe", clientId, "SHARE", "day"));
    }

    [Fact]
    public async Task A_deselected_kpi_ends_its_series_and_the_others_go_on()
    {
        var clientId = TestClients.NewId("rdesel");
        await TestClients.CreateAsync(fixture.Http, clientId, "Europe/Berlin", "POF", "OTD");
        await using var hub = await fixture.ConnectHubAsync();
        var ended = Expect<KpiSeriesEnded>(hub, "kpiEnded");
        await hub.InvokeAsync<KpiSnapshot>("Subscribe", clientId, "OTD", "minute");
        await hub.InvokeAsync<KpiSnapshot>("Subscribe", clientId, "POF", "minute");

        (await fixture.Http.PutAsJsonAsync($"/clients/{clientId}", new { name = "Test " + clientId, timeZone = "Europe/Berlin", selectedKpis = new[] { "POF" } }))
            .EnsureSuccessStatusCode();

        var end = await ended.WaitAsync(Patience);
        Assert.Equal(("OTD", $"KPI 'OTD' is no longer selected for client '{clientId}'."), (end.KpiCode, end.Reason));
        var fanout = fixture.Gateway.Services.GetRequiredService<KpiFanout>();
        Assert.False(fanout.IsViewing(hub.ConnectionId!, new WatchKey(clientId, "OTD", Granularity.Minute)));
        Assert.True(fanout.IsViewing(hub.ConnectionId!, new WatchKey(clientId, "POF", Granularity.Minute)));

        var minute = TestOrder.MinuteStart(2);
        var orders = TestOrder.Random(8, minute, seed: 33);
        var pushed = new TaskCompletionSource<KpiValue>(TaskCreationOptions.RunContinuationsAsynchronously);
        hub.On<KpiValue[]>("kpiChanged", values =>
        {
            foreach (var v in values.Where(v => v.KpiCode == "POF" && v.BucketStart == minute && v.EventCount == orders.Count))
            {
                pushed.TrySetResult(v);
            }
        });
        (await fixture.Http.PostAsJsonAsync($"/ingest/orders?clientId={clientId}", orders)).EnsureSuccessStatusCode();
        Assert.Equal(TestOrder.PerfectOrderPercent(orders), (await pushed.Task.WaitAsync(Patience)).Value!.Value, precision: 9);
    }

    [Fact]
    public async Task The_fan_out_refuses_a_kpi_the_client_does_not_compute_and_leaves_no_viewer()
    {
        var clientId = TestClients.NewId("rrace");
        await TestClients.CreateAsync(fixture.Http, clientId, "Europe/Berlin", "POF");
        var fanout = fixture.Gateway.Services.GetRequiredService<KpiFanout>();
        var key = new WatchKey(clientId, "OTD", Granularity.Minute);
        const string connection = "subscribed-as-otd-was-deselected";

        // What a Subscribe meets when the KPI was deselected between the hub's check and the fan-out's watch.
        var refused = await Assert.ThrowsAsync<HubException>(() => fanout.AddViewerAsync(connection, key, 5));
        Assert.Equal($"KPI 'OTD' is not computed for client '{clientId}': it is not selected, or its formula does not compile.", refused.Message);
        await Assert.ThrowsAsync<HubException>(() => fanout.ResumeViewerAsync(connection, key, 5, []));
        Assert.False(fanout.IsViewing(connection, key));
        Assert.Equal(0, await fixture.Gateway.Services.GetRequiredService<IClusterClient>()
            .GetGrain<IKpiGrain>(KpiGrainKeys.For(clientId, "OTD")).GetWatcherCount());
    }

    [Fact]
    public async Task A_resume_answer_says_when_the_series_was_redefined_while_the_client_was_away()
    {
        var clientId = TestClients.NewId("raway");
        await TestClients.CreateAsync(fixture.Http, clientId);
        await PutCustomKpiAsync(clientId, "SHARE", BigShare, creating: true);
        KpiSnapshot held;
        await using (var before = await fixture.ConnectHubAsync())
        {
            held = await before.InvokeAsync<KpiSnapshot>("Subscribe", clientId, "SHARE", "minute");
        }

        var versions = held.Recent.Select(KpiBucketVersion.Of).ToArray();
        await using var back = await fixture.ConnectHubAsync();
        Assert.NotNull(held.Definition);
        Assert.Equal(held.Definition, (await back.InvokeAsync<KpiResume>("Resume", clientId, "SHARE", "minute", versions)).Definition);

        // Away when the formula changed: every revision it holds is still the server's, so only the definition tells.
        await PutCustomKpiAsync(clientId, "SHARE", "count(orders)", creating: false);
        var resumed = await back.InvokeAsync<KpiResume>("Resume", clientId, "SHARE", "minute", versions);

        Assert.NotNull(resumed.Definition);
        Assert.NotEqual(held.Definition, resumed.Definition);
    }

    [Fact]
    public async Task A_gateway_that_was_not_told_resets_the_series_when_its_renewal_sees_the_new_definition()
    {
        var clientId = TestClients.NewId("rlost");
        await TestClients.CreateAsync(fixture.Http, clientId);
        await PutCustomKpiAsync(clientId, "SHARE", BigShare, creating: true);
        await using var hub = await fixture.ConnectHubAsync();
        var reset = Expect<KpiSnapshot>(hub, "kpiReset");
        var held = await hub.InvokeAsync<KpiSnapshot>("Subscribe", clientId, "SHARE", "minute");

        // The KPI grain loses this gateway's watch (as a new activation on another silo would have none), so the
        // formula change below reaches no watcher.
        var fanout = fixture.Gateway.Services.GetRequiredService<KpiFanout>();
        var kpiGrain = fixture.Gateway.Services.GetRequiredService<IClusterClient>().GetGrain<IKpiGrain>(KpiGrainKeys.For(clientId, "SHARE"));
        await kpiGrain.Unwatch(fanout.Reference, Granularity.Minute);
        await PutCustomKpiAsync(clientId, "SHARE", "count(orders)", creating: false);

        // The renewal (asked for now, as a deactivating KPI grain does) sees the new definition and resets the series.
        await fanout.OnWatchEnded(clientId, "SHARE", Granularity.Minute);
        var snapshot = await reset.WaitAsync(Patience);
        Assert.NotEqual(held.Definition, snapshot.Definition);
        Assert.Equal(1, await kpiGrain.GetWatcherCount());
    }

    [Fact]
    public async Task Reset_and_end_reach_a_MessagePack_connection_too()
    {
        var clientId = TestClients.NewId("rmsgp");
        await TestClients.CreateAsync(fixture.Http, clientId);
        await PutCustomKpiAsync(clientId, "SHARE", BigShare, creating: true);
        await using var hub = await fixture.ConnectMessagePackHubAsync(fixture.Token(AnalyticsEngine.Gateway.Security.Roles.Viewer, clientId));
        var reset = Expect<KpiSnapshot>(hub, "kpiReset");
        var ended = Expect<KpiSeriesEnded>(hub, "kpiEnded");
        var held = await hub.InvokeAsync<KpiSnapshot>("Subscribe", clientId, "SHARE", "hour");

        await PutCustomKpiAsync(clientId, "SHARE", "count(orders)", creating: false);
        var snapshot = await reset.WaitAsync(Patience);
        Assert.Equal(("SHARE", Granularity.Hour), (snapshot.KpiCode, snapshot.Granularity));
        Assert.NotEqual(held.Definition, snapshot.Definition);

        (await fixture.Http.DeleteAsync($"/clients/{clientId}/custom-kpis/SHARE")).EnsureSuccessStatusCode();
        var end = await ended.WaitAsync(Patience);
        Assert.Equal(new KpiSeriesEnded(clientId, "SHARE", Granularity.Hour, $"KPI 'SHARE' was deleted from client '{clientId}'."), end);
    }

    private async Task PutCustomKpiAsync(string clientId, string code, string formula, bool creating)
    {
        var body = new { code, name = code, formula, unit = "" };
        using var response = creating
            ? await fixture.Http.PostAsJsonAsync($"/clients/{clientId}/custom-kpis", body)
            : await fixture.Http.PutAsJsonAsync($"/clients/{clientId}/custom-kpis/{code}", body);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    private static Task<T> Expect<T>(HubConnection hub, string method)
    {
        var received = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        hub.On<T>(method, message => received.TrySetResult(message));
        return received.Task;
    }
}
