using System.Globalization;
using AnalyticsEngine.Archive;
using AnalyticsEngine.Batch;
using AnalyticsEngine.Governance;
using AnalyticsEngine.Proposals;
using AnalyticsEngine.Ingest;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Kpi;
using AnalyticsEngine.Kpi.Engine;
using AnalyticsEngine.Query;
using Microsoft.Extensions.Options;
using Npgsql;
using Orleans.Configuration;
using Orleans.Storage;

namespace AnalyticsEngine.Silo;

/// <summary>
/// Everything a silo needs besides its host: grain services, storage, streams. Shared by the silo
/// process and the test clusters so tests run the configuration production runs.
/// </summary>
public static class SiloHosting
{
    /// <summary>Grain storage holding KPI checkpoints (and stream pub-sub state).</summary>
    public const string KpiStore = "kpi-store";

    /// <summary>Grain storage holding scheduled batch jobs (definition and status); never discards unreadable state.</summary>
    public const string BatchStore = BatchJobState.StorageName;

    /// <summary>
    /// The product's PostgreSQL data source. The ingest commit and the query path send the same few statements over
    /// and over (the rollup upsert alone is some forty aggregates); prepared on a connection once they have been used
    /// twice, PostgreSQL stops parsing and planning them for every batch. A connection string that sets
    /// <c>Max Auto Prepare</c> decides for itself.
    /// </summary>
    public static NpgsqlDataSource CreateDataSource(string postgres)
    {
        var builder = new NpgsqlDataSourceBuilder(postgres) { Name = "analytics" };
        if (builder.ConnectionStringBuilder.MaxAutoPrepare == 0)
        {
            builder.ConnectionStringBuilder.MaxAutoPrepare = 64;
            builder.ConnectionStringBuilder.AutoPrepareMinUsages = 2;
        }

        // A connection back from the pool is not reset: no statement of the grains leaves session state behind (every
        // setting is SET LOCAL, every lock ends with its transaction, no temporary tables or LISTEN), and a connection
        // returned mid-transaction is still rolled back. The reset cost each use of a connection seven more statements
        // and a flush of their answer ahead of the rest, so the caller woke twice per round trip.
        builder.ConnectionStringBuilder.NoResetOnClose = true;
        return builder.Build();
    }

    /// <summary>Registers the plain services grains depend on.</summary>
    public static IServiceCollection AddGrainServices(this IServiceCollection services, IConfiguration configuration, string postgres)
    {
        services.AddSingleton(_ => CreateDataSource(postgres));
        services.AddSingleton(ObjectModelTables.BuiltIn);
        services.AddSingleton<CommittedEnds>();
        services.AddSingleton<ClientConfigStore>();
        services.AddSingleton<BatchStore>();
        services.AddSingleton<AuditStore>();
        services.AddSingleton<ReviewStore>();
        services.AddSingleton<DataCompleteness>();
        services.AddOptions<ArchiveOptions>().Bind(configuration.GetSection("Archive"))
            .Validate(o => !string.IsNullOrWhiteSpace(o.Directory), "Archive:Directory must name the cold storage's directory.")
            // A hold is waited for with a timer, whose longest wait is 24.8 days.
            .Validate(o => o.RestoreFor > TimeSpan.Zero && o.QueryHold > TimeSpan.Zero && o.QueryHold <= TimeSpan.FromDays(24),
                "Archive:RestoreFor must be positive, and Archive:QueryHold from a moment to 24 days.")
            .Validate(o => o.MaxDownloadBytes > 0, "Archive:MaxDownloadBytes must be positive.")
            .Validate(o => o.RunEvery >= TimeSpan.FromMinutes(1), "Archive:RunEvery must be at least a minute (a reminder's shortest period).")
            .ValidateOnStart();
        services.AddSingleton(sp => new ColdStorage(sp.GetRequiredService<IOptions<ArchiveOptions>>().Value));
        services.AddSingleton<SegmentIndex>();
        services.AddSingleton<TableArchiver>();
        services.AddOptions<PriceList>().Bind(configuration.GetSection("Proposals:Prices")).ValidateOnStart();
        services.AddSingleton<IValidateOptions<PriceList>, PriceListValidation>();
        services.AddOptions<IngestOptions>().Bind(configuration.GetSection("Ingest")).ValidateOnStart();
        services.AddOptions<KpiEngineOptions>().Bind(configuration.GetSection("Engine")).ValidateOnStart();
        services.AddOptions<ClientKpiOptions>().Bind(configuration.GetSection("ClientKpi")).ValidateOnStart();
        services.AddOptions<KpiQueryOptions>().Bind(configuration.GetSection("Query"))
            .Validate(o => o.CacheDuration >= TimeSpan.Zero, "Query:CacheDuration must not be negative.")
            .Validate(o => o.StatementTimeout > TimeSpan.Zero && o.BatchTimeout > TimeSpan.Zero, "Query:StatementTimeout and Query:BatchTimeout must be positive.")
            .Validate(o => o.MaxBatchPoints > 0, "Query:MaxBatchPoints must be positive.")
            .Validate(o => o.MaxConcurrentQueries > 0, "Query:MaxConcurrentQueries must be positive.")
            // The last query a batch starts (after waiting its turn, QueryGate, at most until the batch's time is up)
            // may run for a statement timeout, and again with double arithmetic where float8 went past its range, each
            // with Npgsql's 5 s past it; its caller must still be waiting for the answer.
            .Validate(o => o.BatchTimeout + 2 * o.StatementTimeout + TimeSpan.FromSeconds(10) < TimeSpan.Parse(IKpiQueryGrain.CallTimeout, CultureInfo.InvariantCulture),
                $"Query:BatchTimeout plus twice Query:StatementTimeout plus 10 s must be shorter than a query call's timeout, {IKpiQueryGrain.CallTimeout}.")
            .ValidateOnStart();
        // Results up to a few hundred kB (a year of days with components) fit; bigger ones are simply not cached.
        services.AddHybridCache(o => o.MaximumPayloadBytes = 4 * 1024 * 1024);
        services.AddSingleton<KpiQueryCache>();
        services.AddSingleton<QueryGate>();
        services.AddOptions<BatchOptions>().Bind(configuration.GetSection("Batch"))
            .Validate(o => o.TestTickPeriod is null || o.TestTickPeriod > TimeSpan.Zero, "Batch:TestTickPeriod must be positive when set.")
            .Validate(o => o.MaxListed > 0, "Batch:MaxListed must be positive.")
            .Validate(o => o.RunsKept > 0, "Batch:RunsKept must be positive.")
            .ValidateOnStart();
        return services;
    }

    /// <summary>Storage and streaming providers; clustering is left to the caller (Redis in production).</summary>
    public static ISiloBuilder AddAnalyticsProviders(this ISiloBuilder silo, string postgres)
    {
        void AdoNet(AdoNetGrainStorageOptions o, IServiceProvider services)
        {
            o.Invariant = "Npgsql";
            o.ConnectionString = postgres;
            // Compact binary state: KPI checkpoints are written often and read on every activation.
            o.GrainStorageSerializer = new OrleansGrainStorageSerializer(services.GetRequiredService<Orleans.Serialization.Serializer>());
        }

        silo.AddAdoNetGrainStorage(KpiStore, (Microsoft.Extensions.Options.OptionsBuilder<AdoNetGrainStorageOptions> o) => o.Configure<IServiceProvider>((options, services) =>
        {
            AdoNet(options, services);
            options.GrainStorageSerializer = new DiscardUnreadableStateSerializer(
                options.GrainStorageSerializer, services.GetRequiredService<ILoggerFactory>().CreateLogger<DiscardUnreadableStateSerializer>());
        }));
        silo.AddAdoNetGrainStorage("PubSubStore", (Microsoft.Extensions.Options.OptionsBuilder<AdoNetGrainStorageOptions> o) => o.Configure<IServiceProvider>(AdoNet));
        silo.AddAdoNetGrainStorage(BatchStore, (Microsoft.Extensions.Options.OptionsBuilder<AdoNetGrainStorageOptions> o) => o.Configure<IServiceProvider>(AdoNet));

        // Scheduled batch jobs tick on reminders, kept in orleans.reminders (sql/0002) so they survive restarts.
        silo.UseAdoNetReminderService(o =>
        {
            o.Invariant = "Npgsql";
            o.ConnectionString = postgres;
        });

        silo.AddMemoryStreams(EventStreams.Provider, streams =>
        {
            streams.ConfigurePartitioning(8);
            // Pull often: the freshness budget from commit to dashboard is measured in tens of milliseconds.
            streams.ConfigurePullingAgent(o => o.Configure(a => a.GetQueueMsgsTimerPeriod = TimeSpan.FromMilliseconds(10)));
        });

        silo.AddActivityPropagation();
        return silo;
    }
}
