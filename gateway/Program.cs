using System.Diagnostics;
using System.Text.Json.Serialization;
using AnalyticsEngine.Gateway;
using AnalyticsEngine.Gateway.Api;
using AnalyticsEngine.Gateway.Streaming;
using AnalyticsEngine.ServiceDefaults;
using Orleans.Configuration;
using Scalar.AspNetCore;
using StackExchange.Redis;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults("analytics-gateway");

var redis = ConnectionSettings.Redis(builder.Configuration);
var orleans = builder.Configuration.GetSection("Orleans");

builder.UseOrleansClient(client =>
{
    client.Configure<ClusterOptions>(o =>
    {
        o.ClusterId = orleans["ClusterId"] ?? "analytics-engine";
        o.ServiceId = orleans["ServiceId"] ?? "analytics-engine";
    });
    client.UseRedisClustering(redis);
    client.AddActivityPropagation();
});

builder.Services.AddSingleton<IConnectionMultiplexer>(_ => ConnectionMultiplexer.Connect(redis));
builder.Services.AddSingleton(_ => new Npgsql.NpgsqlDataSourceBuilder(ConnectionSettings.Postgres(builder.Configuration)).Build());
builder.Services.AddHealthChecks()
    .AddDependencyChecks()
    .AddCheck<ClusterHealthCheck>("cluster", tags: [ServiceDefaultsExtensions.ReadyTag]);

builder.Services.ConfigureHttpJsonOptions(o => GatewayJson.Configure(o.SerializerOptions));
builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = context =>
    context.ProblemDetails.Extensions["traceId"] = Activity.Current?.TraceId.ToString() ?? context.HttpContext.TraceIdentifier);
builder.Services.AddOpenApi();

builder.Services.AddSignalR(o => o.MaximumReceiveMessageSize = 32 * 1024)
    .AddJsonProtocol(o => GatewayJson.Configure(o.PayloadSerializerOptions))
    .AddMessagePackProtocol();
builder.Services.AddSingleton<KpiFanout>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<KpiFanout>());
builder.Services.AddOptions<GatewayLimits>().Bind(builder.Configuration.GetSection("Gateway")).ValidateDataAnnotations().ValidateOnStart();

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseDefaultFiles();
app.UseStaticFiles();

app.MapServiceDefaults();
app.MapOpenApi();
app.MapScalarApiReference();
app.MapCatalogApi();
app.MapClientsApi();
app.MapIngestApi();
app.MapKpiApi();
app.MapCustomKpisApi();
app.MapDemoApi();
app.MapHub<KpiHub>("/hubs/kpi");

app.Run();

/// <summary>Entry point, visible to the integration tests' WebApplicationFactory.</summary>
public partial class Program;
