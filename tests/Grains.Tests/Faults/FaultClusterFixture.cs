using AnalyticsEngine.Ingest;
using AnalyticsEngine.Silo;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orleans.Configuration;
using Orleans.TestingHost;

namespace AnalyticsEngine.Grains.Tests.Faults;

/// <summary>
/// A three-silo in-process cluster with the production providers (ADO.NET storage in the real PostgreSQL,
/// memory streams) and the product's failure detection (a dead silo is noticed within seconds). The silos connect to
/// PostgreSQL under their own application name, so a test can terminate exactly their connections.
/// </summary>
public sealed class FaultClusterFixture : IAsyncLifetime
{
    public const int InitialSilos = 3;

    /// <summary>The application name of every connection the silos open (and only theirs).</summary>
    public string ApplicationName { get; } = "ae-faults-" + Guid.NewGuid().ToString("N")[..8];

    public InProcessTestCluster Cluster { get; private set; } = null!;

    /// <summary>The test's own connections, used to verify and to inject faults; never terminated.</summary>
    public NpgsqlDataSource Database { get; } = NpgsqlDataSource.Create(
        new NpgsqlConnectionStringBuilder(TestDatabase.ConnectionString) { ApplicationName = "ae-faults-verifier" }.ConnectionString);

    public IClusterClient Client => Cluster.Client;

    /// <summary>How events reached the client grains (stream or database), from the product's meters.</summary>
    public RecoveryMetrics Metrics { get; } = new();

    public async Task InitializeAsync()
    {
        await TestDatabase.EnsureMigratedAsync();
        await EnsureTablesAsync();

        var product = new NpgsqlConnectionStringBuilder(TestDatabase.ConnectionString) { ApplicationName = ApplicationName }.ConnectionString;
        var builder = new InProcessTestClusterBuilder(InitialSilos);
        builder.ConfigureSiloHost((_, host) => host.Services.AddGrainServices(host.Configuration, product));
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddAnalyticsProviders(product);
            // The product's failure detection, so the recovery figure is the product's.
            silo.UseFastFailureDetection();
            silo.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(10));
        });
        builder.ConfigureClient(client =>
        {
            client.AddMemoryStreams(EventStreams.Provider);
            client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(1));
            client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(10));
        });
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    /// <summary>
    /// Creates the object-model tables unless they exist: their DDL (CREATE INDEX IF NOT EXISTS) waits behind
    /// any long COPY another user of the shared server is running.
    /// </summary>
    private async Task EnsureTablesAsync()
    {
        await using var command = Database.CreateCommand("SELECT bool_and(to_regclass(name) IS NOT NULL) FROM unnest($1::text[]) AS name");
        command.Parameters.AddWithValue(ObjectModelTables.BuiltIn.All.Select(t => t.QualifiedName).ToArray());
        if (await command.ExecuteScalarAsync() is not true)
        {
            await ObjectModelTables.BuiltIn.EnsureCreatedAsync(Database, CancellationToken.None);
        }
    }

    public async Task DisposeAsync()
    {
        if (Cluster is not null)
        {
            await Cluster.DisposeAsync();
        }

        await Database.DisposeAsync();
        Metrics.Dispose();
    }
}

/// <summary>
/// The fault scenarios run alone, after every other collection: they restart the shared database server and
/// terminate connections, which would break tests running beside them (and make their own timings noisy).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FaultClusterCollection : ICollectionFixture<FaultClusterFixture>
{
    public const string Name = "fault-cluster";
}
