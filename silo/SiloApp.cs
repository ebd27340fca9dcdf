using System.Net;
using AnalyticsEngine.Ingest;
using AnalyticsEngine.ServiceDefaults;
using AnalyticsEngine.Silo.Storage;
using Npgsql;
using Orleans.Configuration;
using StackExchange.Redis;

namespace AnalyticsEngine.Silo;

/// <summary>Builds and starts a silo process: schema, Orleans, health and metrics endpoints.</summary>
public static class SiloApp
{
    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.AddServiceDefaults("analytics-silo");

        var postgres = ConnectionSettings.Postgres(builder.Configuration);
        var redis = ConnectionSettings.Redis(builder.Configuration);
        var orleans = builder.Configuration.GetSection("Orleans");

        builder.Services.AddGrainServices(builder.Configuration, postgres);
        builder.Services.AddSingleton<IConnectionMultiplexer>(_ => ConnectionMultiplexer.Connect(redis));
        // The second level of the query result cache (HybridCache finds it): results computed on one silo serve all.
        builder.Services.AddStackExchangeRedisCache(o => o.Configuration = redis);
        builder.Services.AddHealthChecks()
            .AddDependencyChecks()
            .AddCheck<SiloActiveHealthCheck>("silo", tags: [ServiceDefaultsExtensions.ReadyTag]);

        builder.UseOrleans(silo =>
        {
            silo.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = orleans["ClusterId"] ?? "analytics-engine";
                o.ServiceId = orleans["ServiceId"] ?? "analytics-engine";
            });
            silo.ConfigureEndpoints(
                IPAddress.Parse(orleans["AdvertisedIP"] ?? "127.0.0.1"),
                orleans.GetValue("SiloPort", 11111),
                orleans.GetValue("GatewayPort", 30000),
                listenOnAnyHostAddress: true);
            silo.UseRedisClustering(redis);
            silo.UseFastFailureDetection(orleans.GetSection("Membership"));
            silo.AddAnalyticsProviders(postgres);
        });

        var app = builder.Build();
        app.MapServiceDefaults();
        return app;
    }

    /// <summary>Applies the schema, then starts the silo. Grains never run against tables that do not exist yet.</summary>
    public static async Task StartAsync(WebApplication app, CancellationToken ct = default)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Startup");
        await SchemaMigrator.ApplyAsync(ConnectionSettings.Postgres(app.Configuration), logger, ct);
        await app.Services.GetRequiredService<ObjectModelTables>()
            .EnsureCreatedAsync(app.Services.GetRequiredService<NpgsqlDataSource>(), ct);
        await app.StartAsync(ct);
    }
}
