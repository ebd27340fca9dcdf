using AnalyticsEngine.Archive;
using AnalyticsEngine.Ingest;
using AnalyticsEngine.Silo;
using AnalyticsEngine.Silo.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Orleans.TestingHost;

namespace AnalyticsEngine.Grains.Tests;

/// <summary>
/// An in-process Orleans cluster of two silos with the production providers (ADO.NET storage in the real
/// PostgreSQL, memory streams), shared by the grain tests of one collection.
/// </summary>
public sealed class KpiClusterFixture : IAsyncLifetime
{
    public static string Postgres { get; } = Environment.GetEnvironmentVariable("ConnectionStrings__Postgres")
        ?? "Host=127.0.0.1;Port=55432;Username=analytics;Password=analytics;Database=analytics";

    /// <summary>The application name of the silos' connections, so a test can tell their backends from others'.</summary>
    public string ApplicationName { get; } = "ae-kpi-cluster-" + Guid.NewGuid().ToString("N")[..8];

    public InProcessTestCluster Cluster { get; private set; } = null!;

    public NpgsqlDataSource Database { get; } = NpgsqlDataSource.Create(Postgres);

    public IClusterClient Client => Cluster.Client;

    /// <summary>The silos' cold storage (<see cref="ArchiveOptions.Directory"/>), a directory of this fixture's own.</summary>
    public string ArchiveDirectory { get; } = Path.Combine(Path.GetTempPath(), "ae-archive-" + Guid.NewGuid().ToString("N")[..8]);

    public async Task InitializeAsync()
    {
        await SchemaMigrator.ApplyAsync(Postgres, NullLogger.Instance, CancellationToken.None);
        await ObjectModelTables.BuiltIn.EnsureCreatedAsync(Database, CancellationToken.None);

        var product = new NpgsqlConnectionStringBuilder(Postgres) { ApplicationName = ApplicationName }.ConnectionString;
        var builder = new InProcessTestClusterBuilder(2);
        builder.ConfigureSiloHost((_, host) =>
        {
            host.Services.AddGrainServices(host.Configuration, product);
            // Ingest grains leave rolling up to the tests (TermRollups.RollUpAsync), so a test knows which rows are in
            // the rollups and which a query reads raw; only a backfill a query asks for (RollupBackfillTests) rolls up,
            // in passes small enough to take several. Every pass looks for abandoned rollups, so that a test can see
            // which a grain keeps (RollupBackfillTests).
            host.Services.Configure<IngestOptions>(o =>
            {
                o.RollupDelay = TimeSpan.FromHours(1);
                o.RollupRowsPerPass = 1000;
                o.AbandonedRollupsCheckInterval = TimeSpan.Zero;
            });
            host.Services.Configure<ArchiveOptions>(o => o.Directory = ArchiveDirectory);
        });
        builder.ConfigureSilo((_, silo) => silo.AddAnalyticsProviders(product));
        builder.ConfigureClient(client => client.AddMemoryStreams(EventStreams.Provider));
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await Cluster.DisposeAsync();
        await Database.DisposeAsync();
        if (Directory.Exists(ArchiveDirectory))
        {
            Directory.Delete(ArchiveDirectory, recursive: true);
        }
    }
}

[CollectionDefinition(Name)]
public sealed class KpiClusterCollection : ICollectionFixture<KpiClusterFixture>
{
    public const string Name = "kpi-cluster";
}
