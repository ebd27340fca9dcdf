using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace AnalyticsEngine.Silo;

/// <summary>Ready only once this silo has joined the cluster and accepts grain calls.</summary>
public sealed class SiloActiveHealthCheck(IHostApplicationLifetime lifetime) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(lifetime.ApplicationStarted.IsCancellationRequested && !lifetime.ApplicationStopping.IsCancellationRequested
            ? HealthCheckResult.Healthy()
            : HealthCheckResult.Unhealthy("the silo has not finished starting, or is stopping"));
}
