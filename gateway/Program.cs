using System.Diagnostics;
using System.Text.Json.Serialization;
using AnalyticsEngine.Gateway;
using AnalyticsEngine.Gateway.Api;
using AnalyticsEngine.Gateway.Security;
using AnalyticsEngine.Gateway.Streaming;
using AnalyticsEngine.ServiceDefaults;
using Microsoft.AspNetCore.SignalR;
using Orleans.Configuration;
using Scalar.AspNetCore;

if (DevTokens.IsInvocation(args))
{
    return DevTokens.Run(args, Console.Out, Console.Error);
}

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
    // A silo leaving may take KPI grains this gateway watches with it: their watches are renewed at once.
    client.AddGatewayCountChangedHandler(sp => (_, change) => sp.GetRequiredService<KpiFanout>().OnGatewayCountChanged(change));
    // A call to a silo that just died would otherwise hang for the default 30 s; ingest retries are
    // safe (idempotency keys), so fail fast and let the caller retry.
    client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(orleans.GetValue("ResponseTimeoutSeconds", 10)));
});

// Ready = a grain call answers. The gateway talks to no database itself: were PostgreSQL or Redis part of its
// readiness, a database restart would take every gateway out of its Service at once, dashboards and all.
builder.Services.AddHealthChecks()
    .AddCheck<ClusterHealthCheck>("cluster", tags: [ServiceDefaultsExtensions.ReadyTag]);

builder.Services.ConfigureHttpJsonOptions(o => GatewayJson.Configure(o.SerializerOptions));
builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = context =>
{
    context.ProblemDetails.Extensions["traceId"] = Activity.Current?.TraceId.ToString() ?? context.HttpContext.TraceIdentifier;
    // Sentence case like every other title here, whether the framework or the exception handler wrote the 415.
    if (context.ProblemDetails.Status == StatusCodes.Status415UnsupportedMediaType)
    {
        context.ProblemDetails.Title = "Unsupported media type";
    }

    // A validation problem's errors say why; the status's generic reason is only for a problem that says nothing else.
    context.ProblemDetails.Detail ??= context.ProblemDetails is HttpValidationProblemDetails { Errors.Count: > 0 }
        ? StatusDetails.InvalidFields
        : StatusDetails.For(context.ProblemDetails.Status, context.HttpContext);
    StatusDetails.Tidy(context.ProblemDetails);
});
builder.Services.AddOpenApi(o => o.AddBearerSecurityScheme());

builder.Services.AddSingleton<HubRateLimitFilter>();
builder.Services.AddSignalR(o =>
    {
        o.MaximumReceiveMessageSize = 32 * 1024;
        o.AddFilter<HubRateLimitFilter>();
        o.AddFilter<HubErrorFilter>();
    })
    .AddJsonProtocol(o => GatewayJson.Configure(o.PayloadSerializerOptions))
    .AddMessagePackProtocol();
// The hub's lifetime manager also hands the fan-out each connection, to write a change serialized once to all its viewers.
builder.Services.AddSingleton<KpiHubConnections>();
builder.Services.AddSingleton<HubLifetimeManager<KpiHub>>(sp => sp.GetRequiredService<KpiHubConnections>());
builder.Services.AddSingleton<KpiFanout>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<KpiFanout>());
builder.Services.AddOptions<GatewayLimits>().Bind(builder.Configuration.GetSection("Gateway")).ValidateDataAnnotations().ValidateOnStart();
builder.AddGatewaySecurity();
builder.Services.AddSingleton<AuditWriter>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<AuditWriter>());

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseSecurityHeaders();
// The page, health, metrics and the API reference are public; everything else needs a token (docs/security.md).
app.UseDefaultFiles();
app.UseStaticFiles();
app.UseRouting();
app.UseGatewaySecurity();

var anonymous = app.MapGroup("").AllowAnonymous();
anonymous.MapServiceDefaults();
app.MapOpenApi().AllowAnonymous();
// Without the default fonts the reference loads nothing from other origins (see the CSP in SecurityHeaders).
app.MapScalarApiReference(o => o.DisableDefaultFonts()).AllowAnonymous();

var api = app.MapSecuredApi();
api.MapCatalogApi();
api.MapClientsApi();
api.MapIngestApi();
api.MapKpiApi();
api.MapCustomKpisApi();
api.MapCalculateApi();
api.MapBatchApi();
api.MapAnalysisApi();
api.MapDemoApi();
api.MapAuditApi();
api.MapReviewsApi();
api.MapProposalsApi();
api.MapRetentionApi();
app.MapHub<KpiHub>("/hubs/kpi", o => o.CloseOnAuthenticationExpiration = true);

app.Run();
return 0;

/// <summary>Entry point, visible to the integration tests' WebApplicationFactory.</summary>
public partial class Program;
