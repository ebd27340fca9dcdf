using Orleans.Hosting;
using Orleans.TestingHost;

namespace AnalyticsEngine.Grains.Tests.Storage;

/// <summary>
/// One in-process Orleans silo whose grain storage and reminders are the real ADO.NET providers on the
/// real PostgreSQL, so the tests exercise exactly the queries the product runs.
/// </summary>
public sealed class StorageTestCluster : IAsyncLifetime
{
    public const string StorageName = "store";

    /// <summary>A second provider on the same tables that deletes rows on clear instead of emptying them.</summary>
    public const string DeletingStorageName = "store-delete";
    private const string Invariant = "Npgsql";

    public InProcessTestCluster Cluster { get; private set; } = null!;

    public IClusterClient Client => Cluster.Client;

    /// <summary>Fresh per cluster, so rows written by earlier runs or other tests never interfere.</summary>
    public string ServiceId => Cluster.Options.ServiceId;

    public async Task InitializeAsync()
    {
        await TestDatabase.EnsureMigratedAsync();

        var builder = new InProcessTestClusterBuilder(1);
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddAdoNetGrainStorage(StorageName, options =>
            {
                options.Invariant = Invariant;
                options.ConnectionString = TestDatabase.ConnectionString;
            });
            silo.AddAdoNetGrainStorage(DeletingStorageName, options =>
            {
                options.Invariant = Invariant;
                options.ConnectionString = TestDatabase.ConnectionString;
                options.DeleteStateOnClear = true;
            });
            silo.UseAdoNetReminderService(options =>
            {
                options.Invariant = Invariant;
                options.ConnectionString = TestDatabase.ConnectionString;
            });
        });
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        if (Cluster is not null)
        {
            await Cluster.StopAllSilosAsync();
            await Cluster.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class StorageClusterCollection : ICollectionFixture<StorageTestCluster>
{
    public const string Name = "Orleans cluster on PostgreSQL";
}
