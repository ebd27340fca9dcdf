using System.Collections.Concurrent;
using System.Text.Json;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Ingest;
using AnalyticsEngine.Kpi;

namespace AnalyticsEngine.Grains.Tests.Kpi;

/// <summary>The client grain applies every committed event exactly once, whatever the stream does.</summary>
[Collection(KpiClusterCollection.Name)]
public sealed class ClientKpiGrainTests(KpiClusterFixture fixture)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_watching_observer_receives_each_change_with_the_recomputed_value()
    {
        var clientId = await CreateClientAsync();
        var minute = Minute(-4);
        var observer = new CollectingObserver();
        var reference = fixture.Client.CreateObjectReference<IKpiObserver>(observer);
        await fixture.Client.GetGrain<IKpiGrain>(KpiGrainKeys.For(clientId, "OTD")).Watch(reference, Granularity.Minute, 5);

        var first = Orders(minute, onTime: [true, true, false, true]);
        var second = Orders(minute, onTime: [false, false]);
        await IngestAsync(clientId, first);
        var afterFirst = await observer.WaitForAsync(v => v.KpiCode == "OTD" && v.BucketStart == minute && v.EventCount == 4, Patience);
        await IngestAsync(clientId, second);
        var afterSecond = await observer.WaitForAsync(v => v.KpiCode == "OTD" && v.BucketStart == minute && v.EventCount == 6, Patience);

        Assert.Equal(75, afterFirst.Value);
        Assert.Equal(50, afterSecond.Value);
        Assert.True(afterSecond.Revision > afterFirst.Revision);
        Assert.DoesNotContain(observer.Values, v => v.KpiCode != "OTD");
    }

    [Fact]
    public async Task Changes_keep_coming_at_once_after_the_client_grain_is_replaced()
    {
        var clientId = await CreateClientAsync();
        var minute = Minute(-3);
        var observer = new CollectingObserver();
        var reference = fixture.Client.CreateObjectReference<IKpiObserver>(observer);
        var kpiGrain = fixture.Client.GetGrain<IKpiGrain>(KpiGrainKeys.For(clientId, "OTD"));
        await kpiGrain.Watch(reference, Granularity.Minute, 5);
        await IngestAsync(clientId, Orders(minute, onTime: [true, true, false, true]));
        await observer.WaitForAsync(v => v.BucketStart == minute && v.EventCount == 4, Patience);

        // Its silo left, say: the next activation knows nothing of what it was asked to publish, so it publishes every
        // KPI, and the KPI grain, which lives on with its watcher, forwards the change at once: no renewal is needed.
        await fixture.Cluster.DeactivateAsync(fixture.Client.GetGrain<IClientKpiGrain>(clientId));
        await IngestAsync(clientId, Orders(minute, onTime: [false, false]));

        var pushed = await observer.WaitForAsync(v => v.BucketStart == minute && v.EventCount == 6, Patience);
        Assert.Equal(50, pushed.Value);
    }

    [Fact]
    public async Task Rows_committed_but_never_published_are_read_back_from_the_database()
    {
        var clientId = await CreateClientAsync();
        var minute = Minute(-6);
        await IngestAsync(clientId, Orders(minute, onTime: [true, true]));

        // Rows 3-5 are committed as the ingest grain would, but their stream message is "lost".
        var table = ObjectModelTables.BuiltIn.Get("orders");
        var lost = Orders(minute, onTime: [false, false, false]);
        var parsed = JsonRowParser.Parse(JsonSerializer.SerializeToUtf8Bytes(lost), table.Layout, 100);
        await using (var connection = await fixture.Database.OpenConnectionAsync())
        {
            await table.CopyAsync(connection, clientId, parsed.Rows.Select((r, i) => r.WithSequence(3 + i)).ToList(), CancellationToken.None);
            await using var advance = connection.CreateCommand();
            advance.CommandText = "UPDATE ingest.partitions SET last_sequence = 5 WHERE client_id = $1 AND object_model = 'orders'";
            advance.Parameters.AddWithValue(clientId);
            await advance.ExecuteNonQueryAsync();
        }

        // The next published batch starts at 6: the grain sees the gap and fills it before applying it.
        await IngestAsync(clientId, Orders(minute, onTime: [true]));

        var bucket = await WaitForBucketAsync(clientId, "OTD", minute, events: 6);
        Assert.Equal(50, bucket.Value);
        Assert.Contains(bucket.AsOf, p => p is { ObjectModel: "orders", Sequence: 6 });
    }

    [Fact]
    public async Task A_last_batch_committed_but_never_published_is_read_back_once_it_stays_missing()
    {
        var clientId = await CreateClientAsync();
        var minute = Minute(-5);
        await IngestAsync(clientId, Orders(minute, onTime: [true, true]));
        await WaitForBucketAsync(clientId, "OTD", minute, events: 2);

        // Rows 3-4 are committed but their stream message is "lost", and no later batch reveals the gap: only the
        // periodic check against ingest.partitions finds them, and reads them once the grace period has passed.
        var table = ObjectModelTables.BuiltIn.Get("orders");
        var parsed = JsonRowParser.Parse(JsonSerializer.SerializeToUtf8Bytes(Orders(minute, onTime: [false, false])), table.Layout, 100);
        await using (var connection = await fixture.Database.OpenConnectionAsync())
        {
            await table.CopyAsync(connection, clientId, parsed.Rows.Select((r, i) => r.WithSequence(3 + i)).ToList(), CancellationToken.None);
            await using var advance = connection.CreateCommand();
            advance.CommandText = "UPDATE ingest.partitions SET last_sequence = 4 WHERE client_id = $1 AND object_model = 'orders'";
            advance.Parameters.AddWithValue(clientId);
            await advance.ExecuteNonQueryAsync();
        }

        var bucket = await WaitForBucketAsync(clientId, "OTD", minute, events: 4);
        Assert.Equal(50, bucket.Value);
        Assert.Equal([new SourcePosition("orders", 4)], await fixture.Client.GetGrain<IClientKpiGrain>(clientId).GetPositions());
    }

    [Fact]
    public async Task A_batch_delivered_twice_is_counted_once()
    {
        var clientId = await CreateClientAsync();
        var minute = Minute(-8);
        await IngestAsync(clientId, Orders(minute, onTime: [true, false]));
        await WaitForBucketAsync(clientId, "OTD", minute, events: 2);

        // Re-deliver rows 1-2 straight onto the client's stream, as a retry after a failover would.
        var table = ObjectModelTables.BuiltIn.Get("orders");
        var rows = await table.ReadAsync(fixture.Database, clientId, 1, 2, CancellationToken.None);
        var stream = fixture.Client.GetStreamProvider(EventStreams.Provider)
            .GetStream<EventBatch>(StreamId.Create(EventStreams.Namespace, clientId));
        await stream.OnNextAsync(new EventBatch(clientId, "orders", 1, 2, DateTimeOffset.UtcNow, [.. rows]));
        await IngestAsync(clientId, Orders(minute, onTime: [true]));

        var bucket = await WaitForBucketAsync(clientId, "OTD", minute, events: 3);
        Assert.Equal(100.0 * 2 / 3, bucket.Value!.Value, precision: 9);
    }

    [Fact]
    public async Task After_deactivation_the_grain_restores_its_checkpoint_and_catches_up()
    {
        var clientId = await CreateClientAsync();
        var minute = Minute(-9);
        await IngestAsync(clientId, Orders(minute, onTime: [true, true, true, false]));
        var before = await WaitForBucketAsync(clientId, "OTD", minute, events: 4);

        await fixture.Cluster.DeactivateAsync(fixture.Client.GetGrain<IClientKpiGrain>(clientId));
        await IngestAsync(clientId, Orders(minute, onTime: [false, false, false, false]));

        var after = await WaitForBucketAsync(clientId, "OTD", minute, events: 8);
        Assert.Equal(75, before.Value);
        Assert.Equal(37.5, after.Value);
        var positions = await fixture.Client.GetGrain<IClientKpiGrain>(clientId).GetPositions();
        Assert.Equal([new SourcePosition("orders", 8)], positions);
    }

    [Fact]
    public async Task An_unreadable_checkpoint_is_discarded_and_the_state_rebuilt_from_the_database()
    {
        var clientId = await CreateClientAsync();
        var minute = Minute(-7);
        await IngestAsync(clientId, Orders(minute, onTime: [true, false, false, false]));
        await WaitForBucketAsync(clientId, "OTD", minute, events: 4);
        await fixture.Cluster.DeactivateAsync(fixture.Client.GetGrain<IClientKpiGrain>(clientId));

        // Damage the stored checkpoint, as an older format or a torn write would.
        await using (var damage = fixture.Database.CreateCommand(
            "UPDATE orleans.grain_state SET payload = '\\x0102030405'::bytea WHERE grain_id_extension LIKE '%' || $1 || '%'"))
        {
            damage.Parameters.AddWithValue(clientId);
            Assert.True(await damage.ExecuteNonQueryAsync() >= 1);
        }

        await IngestAsync(clientId, Orders(minute, onTime: [true]));

        var bucket = await WaitForBucketAsync(clientId, "OTD", minute, events: 5);
        Assert.Equal(40, bucket.Value);
    }

    [Fact]
    public async Task A_change_that_computes_the_same_keeps_the_computation_and_one_that_does_not_rebuilds_it()
    {
        var clientId = await CreateClientAsync();
        var minute = Minute(-5);
        await IngestAsync(clientId, Orders(minute, onTime: [true, false]));
        await WaitForBucketAsync(clientId, "OTD", minute, events: 2);
        var configGrain = fixture.Client.GetGrain<IClientConfigGrain>(clientId);
        var computation = fixture.Client.GetGrain<IClientKpiGrain>(clientId);

        // Renamed: the KPIs and the zone are as they were, so nothing is replayed (a large client's reads would wait).
        Assert.Empty(await configGrain.Put((await configGrain.Get())! with { Name = "Renamed" }));
        Assert.False(await computation.Reconfigure());
        Assert.Equal(50, (await computation.GetSnapshot("OTD", Granularity.Minute, 10)).Recent.Single(v => v.BucketStart == minute).Value);

        // Another zone computes other buckets: the engine is rebuilt from the stored events, which it then holds again.
        var config = (await configGrain.Get())!;
        Assert.Empty(await configGrain.Put(config with { TimeZone = "Asia/Kolkata" }));
        Assert.False(await computation.Reconfigure()); // the Put rebuilt it already
        var rebuilt = (await computation.GetSnapshot("OTD", Granularity.Minute, 10)).Recent.Single(v => v.BucketStart == minute);
        Assert.Equal((2L, 50.0), (rebuilt.EventCount, rebuilt.Value!.Value));
    }

    [Fact]
    public async Task Reads_during_a_rebuild_wait_for_it_and_never_answer_from_a_half_replayed_engine()
    {
        var clientId = await CreateClientAsync();
        var minute = Minute(-5);
        const int batches = 40, perBatch = 100;
        for (var b = 0; b < batches; b++)
        {
            await IngestAsync(clientId, Orders(minute, onTime: [.. Enumerable.Range(0, perBatch).Select(i => i % 3 != 0)]));
        }

        await WaitForBucketAsync(clientId, "OTD", minute, batches * perBatch);
        var grain = fixture.Client.GetGrain<IClientKpiGrain>(clientId);
        var before = (await grain.GetSnapshot("OTD", Granularity.Day, 3)).Definition;

        // Another time zone: the client grain rebuilds from the 4,000 stored events while reads keep coming.
        var config = fixture.Client.GetGrain<IClientConfigGrain>(clientId);
        var change = config.Put((await config.Get())! with { TimeZone = "Asia/Kolkata" });
        var readsDuringChange = new List<KpiSnapshot>();
        while (!change.IsCompleted)
        {
            readsDuringChange.Add(await grain.GetSnapshot("OTD", Granularity.Day, 3));
        }

        Assert.Empty(await change);
        var after = await grain.GetSnapshot("OTD", Granularity.Day, 3);
        Assert.NotEqual(before, after.Definition);
        Assert.NotEmpty(readsDuringChange);
        // Each read answers the old engine or the whole rebuilt one: every event, under either definition.
        Assert.All(readsDuringChange, read =>
        {
            Assert.True(read.Definition == before || read.Definition == after.Definition, read.Definition);
            Assert.Equal(batches * perBatch, read.Recent.Sum(v => v.EventCount));
        });
        Assert.Equal(batches * perBatch, after.Recent.Sum(v => v.EventCount));
    }

    private async Task<string> CreateClientAsync()
    {
        var clientId = "g-" + Guid.NewGuid().ToString("N")[..10];
        var problems = await fixture.Client.GetGrain<IClientConfigGrain>(clientId)
            .Put(new ClientConfig(clientId, "Grain test", "Europe/Berlin", ["POF", "OTD"], [], [], 0));
        Assert.Empty(problems);
        return clientId;
    }

    private async Task IngestAsync(string clientId, object[] orders)
    {
        var result = await fixture.Client.GetGrain<IIngestGrain>(IngestKeys.For(clientId, "orders"))
            .Ingest(new IngestRequest(IngestFormat.Json, JsonSerializer.SerializeToUtf8Bytes(orders), IngestPolicy.RejectBatch, null));
        Assert.True(result.Status == IngestStatus.Committed, string.Join("; ", result.Errors));
    }

    private async Task<KpiValue> WaitForBucketAsync(string clientId, string kpi, DateTimeOffset bucketStart, int events)
    {
        using var timeout = new CancellationTokenSource(Patience);
        var grain = fixture.Client.GetGrain<IClientKpiGrain>(clientId);
        while (true)
        {
            var snapshot = await grain.GetSnapshot(kpi, Granularity.Minute, 30);
            if (snapshot.Recent.FirstOrDefault(v => v.BucketStart == bucketStart) is { } bucket && bucket.EventCount == events)
            {
                return bucket;
            }

            await Task.Delay(25, timeout.Token);
        }
    }

    private static int _orderNumber;

    private static object[] Orders(DateTimeOffset minute, bool[] onTime) => onTime.Select(late => (object)new
    {
        order_id = $"t-{Interlocked.Increment(ref _orderNumber)}",
        ordered_at = minute.AddSeconds(10),
        order_value = 10.0,
        promised_at = minute.AddDays(1),
        on_time = late,
        in_full = true,
        damage_free = true,
        documentation_complete = true,
        status = "delivered",
    }).ToArray();

    private static DateTimeOffset Minute(int offset)
    {
        var t = DateTimeOffset.UtcNow.AddMinutes(offset);
        return new DateTimeOffset(t.Year, t.Month, t.Day, t.Hour, t.Minute, 0, TimeSpan.Zero);
    }

    /// <summary>Collects what a KPI grain pushes and lets a test await a matching value.</summary>
    private sealed class CollectingObserver : IKpiObserver
    {
        private readonly ConcurrentQueue<KpiValue> _values = new();
        private readonly SemaphoreSlim _arrived = new(0);

        public IEnumerable<KpiValue> Values => _values;

        public Task OnWatchEnded(string clientId, string kpiCode, Granularity granularity) => Task.CompletedTask;

        public Task OnSeriesRedefined(string clientId, string kpiCode, Granularity granularity) => Task.CompletedTask;

        public Task OnSeriesEnded(string clientId, string kpiCode, Granularity granularity, string reason) => Task.CompletedTask;

        public Task OnKpiChanged(KpiValue[] changes)
        {
            foreach (var change in changes)
            {
                _values.Enqueue(change);
            }

            _arrived.Release();
            return Task.CompletedTask;
        }

        public async Task<KpiValue> WaitForAsync(Func<KpiValue, bool> match, TimeSpan timeout)
        {
            using var cts = new CancellationTokenSource(timeout);
            while (true)
            {
                if (_values.FirstOrDefault(match) is { } found)
                {
                    return found;
                }

                await _arrived.WaitAsync(cts.Token);
            }
        }
    }
}
