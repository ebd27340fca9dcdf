using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace AnalyticsEngine.ServiceDefaults;

/// <summary>
/// Telemetry and health wiring shared by the silo and the gateway, so both hosts report the same way.
/// </summary>
public static class ServiceDefaultsExtensions
{
    /// <summary>Tag of the health checks that decide readiness (dependencies reachable).</summary>
    public const string ReadyTag = "ready";

    public static IHostApplicationBuilder AddServiceDefaults(this IHostApplicationBuilder builder, string serviceName)
    {
        builder.Logging.AddSimpleConsoleWithScopes();

        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(serviceName, serviceInstanceId: Environment.MachineName + ":" + Environment.ProcessId))
            .WithTracing(tracing => tracing
                // The product's sources by prefix: the hosts' own and the grains' ("AnalyticsEngine.Query" among them).
                .AddSource(Telemetry.ActivitySourceName + "*")
                .AddSource("Microsoft.Orleans.Runtime")
                .AddSource("Microsoft.Orleans.Application")
                .AddAspNetCoreInstrumentation(o => o.Filter = ctx => !IsInfrastructurePath(ctx.Request.Path))
                .AddNpgsql())
            .WithMetrics(metrics => metrics
                .AddMeter(Telemetry.MeterName)
                .AddMeter("Microsoft.Orleans")
                .AddMeter("Microsoft.AspNetCore.Hosting")
                .AddMeter("Microsoft.AspNetCore.Server.Kestrel")
                .AddMeter("Microsoft.AspNetCore.Http.Connections")
                .AddMeter("Microsoft.AspNetCore.SignalR")
                .AddAspNetCoreInstrumentation()
                .AddRuntimeInstrumentation()
                .AddNpgsqlInstrumentation()
                .AddPrometheusExporter());

        // OTLP export only when an operator points us at a collector.
        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            otel.UseOtlpExporter();
        }

        builder.Services.AddHealthChecks();
        return builder;
    }

    /// <summary>
    /// Maps <c>/health/live</c> (the process answers), <c>/health/ready</c> (the host can serve) and <c>/metrics</c>.
    /// With <c>Management:Port</c> set they answer only on that port (the host must listen on it too, e.g.
    /// <c>ASPNETCORE_HTTP_PORTS=8080;8081</c>): probes and scrapers reach it, a public Service or Ingress that
    /// exposes only the other port does not, so the health report's reasons and the metrics stay inside the cluster.
    /// </summary>
    public static IEndpointRouteBuilder MapServiceDefaults(this IEndpointRouteBuilder app)
    {
        var managementPort = app.ServiceProvider.GetRequiredService<IConfiguration>().GetValue<int?>(ManagementPortKey);
        IEndpointConventionBuilder[] endpoints =
        [
            app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false }),
            app.MapHealthChecks("/health/ready", new HealthCheckOptions
            {
                Predicate = check => check.Tags.Contains(ReadyTag),
                ResponseWriter = HealthReportWriter.WriteAsync,
            }),
            app.MapPrometheusScrapingEndpoint("/metrics"),
        ];
        if (managementPort is { } port)
        {
            foreach (var endpoint in endpoints)
            {
                endpoint.RequireHost($"*:{port.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
            }
        }

        return app;
    }

    /// <summary>The configuration key of the port health and metrics answer on alone (none: every port).</summary>
    public const string ManagementPortKey = "Management:Port";

    /// <summary>Adds the PostgreSQL and Redis readiness checks.</summary>
    public static IHealthChecksBuilder AddDependencyChecks(this IHealthChecksBuilder checks) => checks
        .AddCheck<PostgresHealthCheck>("postgres", tags: [ReadyTag])
        .AddCheck<RedisHealthCheck>("redis", tags: [ReadyTag]);

    private static bool IsInfrastructurePath(Microsoft.AspNetCore.Http.PathString path) =>
        path.StartsWithSegments("/health") || path.StartsWithSegments("/metrics");

    private static void AddSimpleConsoleWithScopes(this Microsoft.Extensions.Logging.ILoggingBuilder logging)
    {
        // Scopes carry the trace and span ids of the current activity into every log line.
        Microsoft.Extensions.Logging.ConsoleLoggerExtensions.AddSimpleConsole(logging, o =>
        {
            o.IncludeScopes = true;
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });
        logging.Services.Configure<Microsoft.Extensions.Logging.LoggerFactoryOptions>(o => o.ActivityTrackingOptions =
            Microsoft.Extensions.Logging.ActivityTrackingOptions.TraceId | Microsoft.Extensions.Logging.ActivityTrackingOptions.SpanId);
    }
}
