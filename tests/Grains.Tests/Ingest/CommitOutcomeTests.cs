using AnalyticsEngine.Clients;
using AnalyticsEngine.Ingest;
using AnalyticsEngine.Kpi;
using AnalyticsEngine.Silo;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orleans.TestingHost;

namespace AnalyticsEngine.Grains.Tests.Ingest;

/// <summary>
/// The connection breaks after COMMIT went out and before its answer came back: the batch is stored, and the ingest
/// grain, which cannot know, says it may or may not be; a retry with the same Idempotency-Key is answered from the
/// stored batch, and the partition goes on after it.
/// </summary>
public sealed class CommitOutcomeTests(CommitOutcomeTests.RelayedCluster cluster) : IClassFixture<CommitOutcomeTests.RelayedCluster>
{
    [Fact]
    public async Task A_commit_whose_answer_is_lost_is_reported_as_unknown_and_its_keyed_retry_is_answered_from_it()
    {
        var clientId = "lost-" + Guid.NewGuid().ToString("N")[..10];
        Assert.Empty(await cluster.Client.GetGrain<IClientConfigGrain>(clientId).Put(new ClientConfig(clientId, "Lost commit", "UTC", ["POF"], [], [], 0)));
        var ingest = cluster.Client.GetGrain<IIngestGrain>(IngestKeys.For(clientId, "orders"));
        Assert.Equal(IngestStatus.Committed, (await ingest.Ingest(Request(Body("A-1"), "k-1"))).Status);

        cluster.Relay.BreakNextCommit();
        var lost = await ingest.Ingest(Request(Body("B-1", "B-2"), "k-2"));
        await cluster.Relay.Broke.Task.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(IngestStatus.Unavailable, lost.Status);
        var reason = Assert.Single(lost.Errors).Reason;
        Assert.Contains("may or may not be stored", reason);
        Assert.Contains("retry with the same Idempotency-Key", reason);
        // It was stored: "nothing was stored, retry" would have a caller without a key store it twice.
        Assert.Equal(["A-1", "B-1", "B-2"], await StoredOrderIdsAsync(clientId));

        var retried = await ingest.Ingest(Request(Body("B-1", "B-2"), "k-2"));
        Assert.Equal(IngestStatus.Replayed, retried.Status);
        Assert.Equal((2, 3), (retried.FromSequence, retried.ToSequence));

        var next = await ingest.Ingest(Request(Body("C-1"), "k-3"));
        Assert.Equal(IngestStatus.Committed, next.Status);
        Assert.Equal((4, 4), (next.FromSequence, next.ToSequence));
        Assert.Equal(["A-1", "B-1", "B-2", "C-1"], await StoredOrderIdsAsync(clientId));

        // The lost batch never went out on the stream; the client's computation reads it when the next one shows the gap.
        var computation = cluster.Client.GetGrain<IClientKpiGrain>(clientId);
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while ((await computation.GetPositions()).Single().Sequence < 4)
        {
            await Task.Delay(50, patience.Token);
        }

        var hours = (await computation.GetSnapshot("POF", Granularity.Hour, 2)).Recent;
        Assert.Equal(4, hours.Single(h => h.BucketStart <= OrderBodies.OrderedAt && OrderBodies.OrderedAt < h.BucketEnd).EventCount);
    }

    [Fact]
    public async Task Without_a_key_the_caller_is_told_to_check_before_sending_again()
    {
        var clientId = "lost-" + Guid.NewGuid().ToString("N")[..10];
        Assert.Empty(await cluster.Client.GetGrain<IClientConfigGrain>(clientId).Put(new ClientConfig(clientId, "Lost commit", "UTC", ["POF"], [], [], 0)));
        var ingest = cluster.Client.GetGrain<IIngestGrain>(IngestKeys.For(clientId, "orders"));

        cluster.Relay.BreakNextCommit();
        var lost = await ingest.Ingest(Request(Body("A-1"), null));
        await cluster.Relay.Broke.Task.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(IngestStatus.Unavailable, lost.Status);
        Assert.Contains("may or may not be stored; check before sending it again", Assert.Single(lost.Errors).Reason);
        Assert.Equal(["A-1"], await StoredOrderIdsAsync(clientId));
        var next = await ingest.Ingest(Request(Body("B-1"), null));
        Assert.Equal((IngestStatus.Committed, 2L), (next.Status, next.FromSequence));
    }

    private static IngestRequest Request(byte[] body, string? key) => new(IngestFormat.Json, body, IngestPolicy.RejectBatch, key);

    private Task<List<string>> StoredOrderIdsAsync(string clientId) => OrderBodies.StoredIdsAsync(cluster.Database, clientId);

    private static byte[] Body(params string[] orderIds) => OrderBodies.Body(orderIds);

    /// <summary>One silo whose grains reach PostgreSQL through a <see cref="CommitBreakingRelay"/> (its providers directly).</summary>
    public sealed class RelayedCluster : IAsyncLifetime
    {
        public InProcessTestCluster Cluster { get; private set; } = null!;

        public CommitBreakingRelay Relay { get; private set; } = null!;

        public NpgsqlDataSource Database { get; } = NpgsqlDataSource.Create(TestDatabase.ConnectionString);

        public IClusterClient Client => Cluster.Client;

        public async Task InitializeAsync()
        {
            await TestDatabase.EnsureMigratedAsync();
            await ObjectModelTables.BuiltIn.EnsureCreatedAsync(Database, CancellationToken.None);
            var direct = new NpgsqlConnectionStringBuilder(TestDatabase.ConnectionString);
            Relay = new CommitBreakingRelay(direct.Host!, direct.Port);
            var relayed = new NpgsqlConnectionStringBuilder(direct.ConnectionString)
            {
                Host = "127.0.0.1",
                Port = Relay.Port,
                SslMode = SslMode.Disable,
                GssEncryptionMode = GssEncryptionMode.Disable,
            }.ConnectionString;

            var builder = new InProcessTestClusterBuilder(1);
            builder.ConfigureSiloHost((_, host) =>
            {
                host.Services.AddGrainServices(host.Configuration, relayed);
                host.Services.Configure<IngestOptions>(o => o.RollupDelay = TimeSpan.FromHours(1));
            });
            builder.ConfigureSilo((_, silo) => silo.AddAnalyticsProviders(direct.ConnectionString));
            builder.ConfigureClient(client => client.AddMemoryStreams(EventStreams.Provider));
            Cluster = builder.Build();
            await Cluster.DeployAsync();
        }

        public async Task DisposeAsync()
        {
            await Cluster.DisposeAsync();
            await Relay.DisposeAsync();
            await Database.DisposeAsync();
        }
    }
}
