using System.Globalization;
using AnalyticsEngine.Gateway.Streaming;
using AnalyticsEngine.Kpi;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;

namespace AnalyticsEngine.Integration.Tests;

/// <summary>
/// A dashboard that reconnects passes back the buckets it holds and gets exactly what it missed: no gap, nothing
/// it already had, and it ends equal to the server for every bucket.
/// </summary>
[Collection(AnalyticsCollection.Name)]
public sealed class StreamingResumeTests(AnalyticsFixture fixture)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private IClusterClient Cluster => fixture.Gateway.Services.GetRequiredService<IClusterClient>();

    [Fact]
    public async Task A_reconnecting_client_gets_exactly_what_changed_while_it_was_away_then_live_changes()
    {
        var clientId = TestClients.NewId("resume");
        await TestClients.CreateAsync(fixture.Http, clientId);
        var now = Minute(DateTimeOffset.UtcNow);
        var recent = now.AddMinutes(-2);
        var older = now.AddMinutes(-10);
        var beyondWindow = now.AddMinutes(-75); // older than the 60 buckets a snapshot carries, held from a push
        var neverHeld = now.AddMinutes(-90);

        // Another dashboard watches throughout, so the gateway keeps forwarding changes while the first is away.
        await using var other = await fixture.ConnectHubAsync();
        var otherCopy = new SeriesCopy();
        other.On<KpiValue[]>("kpiChanged", otherCopy.ApplyPush);
        otherCopy.ApplySnapshot(await other.InvokeAsync<KpiSnapshot>("Subscribe", clientId, "OTD", "minute"));

        var copy = new SeriesCopy();
        var first = await fixture.ConnectHubAsync();
        first.On<KpiValue[]>("kpiChanged", copy.ApplyPush);
        copy.ApplySnapshot(await first.InvokeAsync<KpiSnapshot>("Subscribe", clientId, "OTD", "minute"));
        await PostAsync(clientId, [.. TestOrder.Random(10, recent, seed: 101), .. TestOrder.Random(3, beyondWindow, seed: 102)]);
        await WaitForCountAsync(copy, recent, 10);
        await WaitForCountAsync(copy, beyondWindow, 3);
        await first.DisposeAsync();

        // While it is away: a held bucket changes, a new one fills, the held one beyond the window changes,
        // and one it never held changes beyond the window.
        await PostAsync(clientId,
        [
            .. TestOrder.Random(5, recent, seed: 103), .. TestOrder.Random(4, older, seed: 104),
            .. TestOrder.Random(2, beyondWindow, seed: 105), .. TestOrder.Random(6, neverHeld, seed: 106),
        ]);
        await WaitForCountAsync(otherCopy, recent, 15);
        await WaitForCountAsync(otherCopy, older, 4);
        await WaitForCountAsync(otherCopy, beyondWindow, 5);
        await WaitForCountAsync(otherCopy, neverHeld, 6);

        // It also holds a bucket from three days ago, which the server (48 h of minutes) has forgotten.
        var ancient = now.AddDays(-3);
        copy.Hold(copy.Get(recent)! with { BucketStart = ancient, BucketEnd = ancient.AddMinutes(1), Revision = 7, IsFinal = true });
        var held = copy.Held();

        await using var second = await fixture.ConnectHubAsync();
        second.On<KpiValue[]>("kpiChanged", copy.ApplyPush);
        var resume = await second.InvokeAsync<KpiResume>("Resume", clientId, "OTD", "minute", held);

        Assert.DoesNotContain(resume.Changed, v => held.Any(h => h.Matches(v)));
        Assert.Contains(resume.Changed, v => v.BucketStart == recent && v.EventCount == 15);
        Assert.Contains(resume.Changed, v => v.BucketStart == older && v.EventCount == 4);
        Assert.Contains(resume.Changed, v => v.BucketStart == beyondWindow && v.EventCount == 5);
        Assert.DoesNotContain(resume.Changed, v => v.BucketStart == neverHeld);
        Assert.Equal([ancient], resume.Expired);
        Assert.True(resume.Changed.Count < held.Length, $"{resume.Changed.Count} values answered for {held.Length} held: a resume is not a snapshot");
        copy.ApplyResume(resume);
        await AssertEqualsServerAsync(copy, clientId);

        // Live again on the new connection.
        await PostAsync(clientId, TestOrder.Random(7, recent, seed: 107));
        await WaitForCountAsync(copy, recent, 22);
        await AssertEqualsServerAsync(copy, clientId);
        Assert.Empty(copy.Duplicates());
    }

    [Fact]
    public async Task Revisions_survive_the_grains_being_deactivated_so_a_resume_resends_nothing_unchanged()
    {
        var clientId = TestClients.NewId("reac");
        await TestClients.CreateAsync(fixture.Http, clientId);
        var now = Minute(DateTimeOffset.UtcNow);
        var recent = now.AddMinutes(-2);
        var later = now.AddMinutes(-1);
        var clientGrain = Cluster.GetGrain<IClientKpiGrain>(clientId);
        var kpiGrain = Cluster.GetGrain<IKpiGrain>(KpiGrainKeys.For(clientId, "OTD"));

        var copy = new SeriesCopy();
        var first = await fixture.ConnectHubAsync();
        first.On<KpiValue[]>("kpiChanged", copy.ApplyPush);
        copy.ApplySnapshot(await first.InvokeAsync<KpiSnapshot>("Subscribe", clientId, "OTD", "minute"));
        // Three batches of four: a bucket's revision counts the events it has taken, whatever the batching.
        for (var batch = 1; batch <= 3; batch++)
        {
            await PostAsync(clientId, TestOrder.Random(4, recent, seed: 200 + batch));
            await WaitForCountAsync(copy, recent, 4 * batch);
        }

        Assert.Equal(12, copy.Get(recent)!.Revision);
        await first.DisposeAsync();
        await Eventually.HoldsAsync(async () => await kpiGrain.GetWatcherCount() == 0, Patience, () => "the upstream watch ends with the last viewer");

        var management = Cluster.GetGrain<IManagementGrain>(0);
        await management.DeactivateGrain(clientGrain.GetGrainId());
        await Eventually.HoldsAsync(async () => await management.GetGrainActivationCount((GrainReference)(object)clientGrain) == 0,
            Patience, () => "the client's KPI grain deactivates");

        // Events while nobody watches reactivate the grain through its stream; it restores its checkpoint.
        await PostAsync(clientId, TestOrder.Random(5, later, seed: 204));
        await Eventually.HoldsAsync(
            async () => (await clientGrain.GetSnapshot("OTD", Granularity.Minute, 5)).Recent.Any(v => v.BucketStart == later && v.EventCount == 5),
            Patience, () => "the reactivated grain applies the new events");

        var held = copy.Held();
        await using var second = await fixture.ConnectHubAsync();
        second.On<KpiValue[]>("kpiChanged", copy.ApplyPush);
        var resume = await second.InvokeAsync<KpiResume>("Resume", clientId, "OTD", "minute", held);

        Assert.DoesNotContain(resume.Changed, v => v.BucketStart == recent);
        Assert.Contains(resume.Changed, v => v.BucketStart == later && v.EventCount == 5);
        copy.ApplyResume(resume);
        await AssertEqualsServerAsync(copy, clientId);
        Assert.Empty(copy.Duplicates());
    }

    [Fact]
    public async Task Resume_with_bad_arguments_is_refused_with_a_hub_error_that_says_why()
    {
        var clientId = TestClients.NewId("rbad");
        await TestClients.CreateAsync(fixture.Http, clientId);
        var minute = Minute(DateTimeOffset.UtcNow);
        await using var hub = await fixture.ConnectHubAsync();

        async Task<string> Refused(string kpi, string granularity, KpiBucketVersion[]? held) =>
            (await Assert.ThrowsAsync<HubException>(() => hub.InvokeAsync<KpiResume>("Resume", clientId, kpi, granularity, held))).Message;

        Assert.Contains("held must list the buckets", await Refused("OTD", "minute", null));
        Assert.Contains("a resume may list at most 300",
            await Refused("OTD", "minute", [.. Enumerable.Range(0, 301).Select(i => new KpiBucketVersion(minute.AddMinutes(-i), 1, false))]));
        Assert.Contains("twice", await Refused("OTD", "minute", [new(minute, 1, false), new(minute, 2, false)]));
        Assert.Contains("never negative", await Refused("OTD", "minute", [new(minute, -1, false)]));
        Assert.Contains("is not one of", await Refused("OTD", "fortnight", []));
        Assert.Contains("not the start of any minute bucket", await Refused("OTD", "minute", [new(minute.AddSeconds(30), 1, false)]));
        Assert.Contains("not the start of any hour bucket", await Refused("OTD", "hour", [new(minute.AddHours(-1).AddMinutes(minute.Minute == 0 ? 1 : 0), 1, false)]));
        Assert.Contains("too close to the end of the calendar",
            await Refused("OTD", "minute", [new(new DateTimeOffset(9999, 12, 31, 23, 59, 0, TimeSpan.Zero), 1, false)]));
        Assert.Contains("is not one of", await Refused("OTD", null!, []));
        var longCode = new string('K', 10_000);
        var capped = await Refused(longCode, "minute", []);
        Assert.True(capped.Length < 1_200, $"{capped.Length} characters"); // 1,000 and the client's own prefix
        Assert.EndsWith("more characters)", capped, StringComparison.Ordinal);
        await Assert.ThrowsAsync<HubException>(() => hub.InvokeAsync<KpiResume>("Resume", clientId, "NOPE", "minute", Array.Empty<KpiBucketVersion>()));
        // Over JSON a bucketStart without its offset does not bind (it would otherwise be read in the gateway's own zone).
        var withoutOffset = new[] { new { bucketStart = minute.ToString("yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture), revision = 1L, isFinal = false } };
        Assert.Contains("Failed to invoke 'Resume'",
            (await Assert.ThrowsAsync<HubException>(() => hub.InvokeAsync<KpiResume>("Resume", clientId, "OTD", "minute", withoutOffset))).Message);

        // A refused resume leaves no subscription behind.
        var fanout = fixture.Gateway.Services.GetRequiredService<KpiFanout>();
        Assert.False(fanout.IsViewing(hub.ConnectionId!, new WatchKey(clientId, "OTD", Granularity.Minute)));
        Assert.False(fanout.IsViewing(hub.ConnectionId!, new WatchKey(clientId, "OTD", Granularity.Hour)));

        // An empty list resumes from nothing: the whole window, like a snapshot.
        var fresh = await hub.InvokeAsync<KpiResume>("Resume", clientId, "OTD", "minute", Array.Empty<KpiBucketVersion>());
        Assert.Equal(60, fresh.Changed.Count);
        Assert.True(fanout.IsViewing(hub.ConnectionId!, new WatchKey(clientId, "OTD", Granularity.Minute)));
    }

    [Fact]
    public async Task A_call_still_running_when_its_connection_closed_leaves_no_viewer_behind()
    {
        var clientId = TestClients.NewId("rclosed");
        await TestClients.CreateAsync(fixture.Http, clientId);
        var fanout = fixture.Gateway.Services.GetRequiredService<KpiFanout>();
        var key = new WatchKey(clientId, "OTD", Granularity.Minute);
        const string connection = "closed-before-its-subscribe-ran";

        // The hub's disconnect handler ran first; the connection's Subscribe reaches the fan-out only then.
        await fanout.RemoveConnectionAsync(connection);

        await Assert.ThrowsAsync<HubException>(() => fanout.AddViewerAsync(connection, key, 5));
        await Assert.ThrowsAsync<HubException>(() => fanout.ResumeViewerAsync(connection, key, 5, []));
        Assert.False(fanout.IsViewing(connection, key));
        Assert.Equal(0, await Cluster.GetGrain<IKpiGrain>(KpiGrainKeys.For(clientId, "OTD")).GetWatcherCount());
    }

    [Fact]
    public async Task Resume_works_over_MessagePack_too()
    {
        var clientId = TestClients.NewId("rmsgp");
        await TestClients.CreateAsync(fixture.Http, clientId);
        var recent = Minute(DateTimeOffset.UtcNow).AddMinutes(-2);
        await using var hub = await fixture.ConnectMessagePackHubAsync(fixture.Token(AnalyticsEngine.Gateway.Security.Roles.Viewer, clientId));
        var copy = new SeriesCopy();
        hub.On<KpiValue[]>("kpiChanged", copy.ApplyPush);
        copy.ApplySnapshot(await hub.InvokeAsync<KpiSnapshot>("Subscribe", clientId, "OTD", "minute"));
        await PostAsync(clientId, TestOrder.Random(6, recent, seed: 301));
        await WaitForCountAsync(copy, recent, 6);

        var held = copy.Held();
        var resume = await hub.InvokeAsync<KpiResume>("Resume", clientId, "OTD", "minute", held);

        Assert.Equal(clientId, resume.ClientId);
        Assert.DoesNotContain(resume.Changed, v => held.Any(h => h.Matches(v)));
        copy.ApplyResume(resume);
        await AssertEqualsServerAsync(copy, clientId);
    }

    private Task PostAsync(string clientId, IEnumerable<TestOrder> orders) => TestClients.PostOrdersAsync(fixture.Http, clientId, orders);

    private static Task WaitForCountAsync(SeriesCopy copy, DateTimeOffset bucketStart, long eventCount) =>
        Eventually.HoldsAsync(() => copy.Get(bucketStart)?.EventCount == eventCount, Patience,
            () => $"bucket {bucketStart:O} holds {copy.Get(bucketStart)?.EventCount ?? 0} events, expected {eventCount}");

    /// <summary>
    /// Every bucket the copy holds equals the server's, and the copy holds every bucket of the server's window that
    /// ever changed. Polled: a bucket may turn final between two reads.
    /// </summary>
    private async Task AssertEqualsServerAsync(SeriesCopy copy, string clientId)
    {
        var differences = new List<string>();
        await Eventually.HoldsAsync(async () =>
        {
            var snapshot = await Cluster.GetGrain<IClientKpiGrain>(clientId).GetSnapshot("OTD", Granularity.Minute, 120);
            var server = snapshot.Recent.ToDictionary(v => v.BucketStart);
            differences = copy.DifferencesFrom(server, snapshot.Recent.TakeLast(60).Where(v => v.Revision > 0).Select(v => v.BucketStart));
            return differences.Count == 0;
        }, Patience, () => string.Join("; ", differences));
    }

    private static DateTimeOffset Minute(DateTimeOffset time) => new(time.Year, time.Month, time.Day, time.Hour, time.Minute, 0, TimeSpan.Zero);
}
