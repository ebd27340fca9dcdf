using AnalyticsEngine.Batch;
using AnalyticsEngine.Ingest;
using AnalyticsEngine.Silo;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Hosting;
using Orleans.TestingHost;

namespace AnalyticsEngine.Grains.Tests.Batch;

/// <summary>
/// One silo with the production providers (ADO.NET storage and reminders in the real PostgreSQL) whose batch jobs
/// tick every <see cref="TickPeriod"/> instead of on their schedule (<see cref="BatchOptions.TestTickPeriod"/>), so a
/// test sees reminders fire without waiting an hour.
/// </summary>
public sealed class BatchClusterFixture : IAsyncLifetime
{
    public static readonly TimeSpan TickPeriod = TimeSpan.FromSeconds(2);

    public InProcessTestCluster Cluster { get; private set; } = null!;

    public IClusterClient Client => Cluster.Client;

    public string ServiceId => Cluster.Options.ServiceId;

    public async Task InitializeAsync()
    {
        await TestDatabase.EnsureMigratedAsync();
        await ObjectModelTables.BuiltIn.EnsureCreatedAsync(TestDatabase.DataSource, CancellationToken.None);

        var builder = new InProcessTestClusterBuilder(1);
        builder.ConfigureSiloHost((_, host) =>
        {
            host.Services.AddGrainServices(host.Configuration, TestDatabase.ConnectionString);
            host.Services.Configure<BatchOptions>(o => o.TestTickPeriod = TickPeriod);
        });
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddAnalyticsProviders(TestDatabase.ConnectionString);
            silo.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = TimeSpan.FromSeconds(1));
        });
        builder.ConfigureClient(client => client.AddMemoryStreams(EventStreams.Provider));
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        if (Cluster is not null)
        {
            await Cluster.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class BatchClusterCollection : ICollectionFixture<BatchClusterFixture>
{
    public const string Name = "batch-cluster";
}
