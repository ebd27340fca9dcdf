using AnalyticsEngine.Clients;
using AnalyticsEngine.Ingest;
using AnalyticsEngine.Query;
using AnalyticsEngine.Silo;
using AnalyticsEngine.Silo.Storage;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orleans.Configuration;
using Orleans.TestingHost;

namespace AnalyticsEngine.Grains.Tests.Query;

/// <summary>
/// A one-silo cluster whose default response timeout and batch timeout are a second: short enough that a query held
/// up on a lock outlasts both. It runs one query more at once than the machine has cores, so a test can tell the
/// query grain's calls from its activations (a stateless worker has one per core).
/// </summary>
public sealed class SlowQueryClusterFixture : IAsyncLifetime
{
    public static readonly TimeSpan Short = TimeSpan.FromSeconds(1);

    public static readonly int MaxConcurrentQueries = Environment.ProcessorCount + 1;

    /// <summary>The application name of the silo's connections, so a test can tell its backends from others'.</summary>
    public string ApplicationName { get; } = "ae-slow-query-" + Guid.NewGuid().ToString("N")[..8];

    public InProcessTestCluster Cluster { get; private set; } = null!;

    public NpgsqlDataSource Database { get; } = NpgsqlDataSource.Create(KpiClusterFixture.Postgres);

    public IClusterClient Client => Cluster.Client;

    public QueryGate Gate => Cluster.GetSiloServiceProvider(Cluster.Silos[0].SiloAddress).GetRequiredService<QueryGate>();

    public async Task InitializeAsync()
    {
        // As a silo's start does (SiloApp): the schema, then the object models' tables a client's KPIs read.
        await SchemaMigrator.ApplyAsync(KpiClusterFixture.Postgres, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, CancellationToken.None);
        await ObjectModelTables.BuiltIn.EnsureCreatedAsync(Database, CancellationToken.None);
        var product = new NpgsqlConnectionStringBuilder(KpiClusterFixture.Postgres) { ApplicationName = ApplicationName }.ConnectionString;
        var builder = new InProcessTestClusterBuilder(1);
        builder.ConfigureSiloHost((_, host) =>
        {
            host.Services.AddGrainServices(host.Configuration, product);
            host.Services.Configure<KpiQueryOptions>(o =>
            {
                o.BatchTimeout = Short;
                o.MaxConcurrentQueries = MaxConcurrentQueries;
            });
            host.Services.Configure<IngestOptions>(o => o.RollupDelay = TimeSpan.FromHours(1));
            host.Services.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = Short);
        });
        builder.ConfigureSilo((_, silo) => silo.AddAnalyticsProviders(product));
        builder.ConfigureClient(client =>
        {
            client.AddMemoryStreams(EventStreams.Provider);
            client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = Short);
        });
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await Cluster.DisposeAsync();
        await Database.DisposeAsync();
    }
}

/// <summary>
/// A query slower than the cluster's default response timeout is answered, not failed while it goes on running; a
/// batch past its time answers what it ran and says which queries it did not start.
/// </summary>
public sealed class SlowQueryCallTests(SlowQueryClusterFixture fixture) : IClassFixture<SlowQueryClusterFixture>
{
    [Fact]
    public async Task A_query_held_up_past_the_default_response_timeout_is_still_answered()
    {
        var query = await ClientQueryAsync("POF");

        var answer = await HoldUpFirstQueryAsync(() => fixture.Client.GetGrain<IKpiQueryGrain>(0).Calculate(query));

        Assert.Null(answer.Error);
        Assert.Equal(24, Assert.Single(answer.Series).Values.Count);
    }

    [Fact]
    public async Task A_batch_past_its_timeout_keeps_what_it_answered_and_starts_no_more_queries()
    {
        var pof = await ClientQueryAsync("POF");
        var otd = pof with { KpiCode = "OTD" };

        var results = await HoldUpFirstQueryAsync(() => fixture.Client.GetGrain<IKpiQueryGrain>(0).CalculateBatch([pof, otd, pof]));

        Assert.Null(results[0].Error);
        Assert.Equal(24, Assert.Single(results[0].Series).Values.Count);
        foreach (var notStarted in results.Skip(1))
        {
            Assert.Equal(QueryErrorKind.Timeout, notStarted.Error?.Kind);
            Assert.StartsWith("Not started: the batch had run for 1 s", notStarted.Error!.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Queries_run_at_once_beyond_one_per_core_and_one_past_the_silo_s_bound_waits_its_turn_for_a_batch_s_time()
    {
        var leads = await ClientQueryAsync("SALES_NEW_LEADS");
        var grain = fixture.Client.GetGrain<IKpiQueryGrain>(0);
        await using var holder = await fixture.Database.OpenConnectionAsync();
        var transaction = await holder.BeginTransactionAsync();
        await using (var hold = new NpgsqlCommand("LOCK TABLE sales_data.leads IN ACCESS EXCLUSIVE MODE", holder, transaction))
        {
            await hold.ExecuteNonQueryAsync();
        }

        // Ranges an hour apart: the same query asked at once would run once for all its callers (the result cache).
        var held = Enumerable.Range(0, SlowQueryClusterFixture.MaxConcurrentQueries)
            .Select(i => grain.Calculate(leads with { From = leads.From.AddHours(-i), To = leads.To.AddHours(-i) }))
            .ToArray();
        await TestDatabase.WaitUntilBlockedByAsync(holder.ProcessID, "leads", fixture.ApplicationName, SlowQueryClusterFixture.MaxConcurrentQueries);
        // One more waits its turn, for as long as a batch may run (a second here), and is answered as not started.
        var refused = await grain.Calculate(leads with { KpiCode = "POF" });
        Assert.Equal(QueryErrorKind.Timeout, refused.Error?.Kind);
        Assert.StartsWith($"Not started: the silo ran its {SlowQueryClusterFixture.MaxConcurrentQueries} queries at once", refused.Error!.Message, StringComparison.Ordinal);
        Assert.Equal(SlowQueryClusterFixture.MaxConcurrentQueries, await BlockedAsync(holder.ProcessID)); // all the while
        await transaction.RollbackAsync();

        Assert.All(await Task.WhenAll(held), answer => Assert.Equal(24, Assert.Single(answer.Series).Values.Count));
        Assert.Equal(0, fixture.Gate.Waiting);
        Assert.Null((await grain.Calculate(leads with { KpiCode = "POF" })).Error);
    }

    /// <summary>How many of the silo's statements wait for the lock <paramref name="holder"/> holds.</summary>
    private async Task<long> BlockedAsync(int holder)
    {
        await using var command = fixture.Database.CreateCommand(
            "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid)) AND application_name = $2");
        command.Parameters.AddWithValue(holder);
        command.Parameters.AddWithValue(fixture.ApplicationName);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private async Task<KpiQuery> ClientQueryAsync(string kpi)
    {
        var clientId = "s-" + Guid.NewGuid().ToString("N")[..10];
        Assert.Empty(await fixture.Client.GetGrain<IClientConfigGrain>(clientId)
            .Put(new ClientConfig(clientId, "Slow", "UTC", ["POF", "OTD"], [], [], 0)));
        var now = DateTimeOffset.UtcNow;
        var hour = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, 0, 0, TimeSpan.Zero);
        return new KpiQuery(clientId, kpi, hour.AddDays(-1), hour, QueryGranularity.Hour);
    }

    /// <summary>
    /// Starts <paramref name="call"/> while the rollup coverage every query reads first is locked, and releases the lock
    /// once the call has waited on it for longer than <see cref="SlowQueryClusterFixture.Short"/>.
    /// </summary>
    private async Task<T> HoldUpFirstQueryAsync<T>(Func<Task<T>> call)
    {
        await using var holder = await fixture.Database.OpenConnectionAsync();
        var transaction = await holder.BeginTransactionAsync();
        await using (var hold = new NpgsqlCommand("LOCK TABLE query.rollup_terms IN ACCESS EXCLUSIVE MODE", holder, transaction))
        {
            await hold.ExecuteNonQueryAsync();
        }

        var started = TimeProvider.System.GetTimestamp();
        var pending = call();
        await TestDatabase.WaitUntilBlockedByAsync(holder.ProcessID, "query.rollup_terms", fixture.ApplicationName);
        // What is tested is a wait longer than the timeouts: the time itself is the condition.
        var waited = TimeProvider.System.GetElapsedTime(started);
        await Task.Delay(SlowQueryClusterFixture.Short * 1.5 - waited > TimeSpan.Zero ? SlowQueryClusterFixture.Short * 1.5 - waited : TimeSpan.Zero);
        Assert.False(pending.IsCompleted, "the call ended while its query still waited on the lock");
        await transaction.RollbackAsync();
        return await pending;
    }
}
