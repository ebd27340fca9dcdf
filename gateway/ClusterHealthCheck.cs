using AnalyticsEngine.Catalog;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace AnalyticsEngine.Gateway;

/// <summary>Ready when a grain call round-trips through the cluster (an in-memory catalog read: probes must not load the database).</summary>
public sealed class ClusterHealthCheck(IClusterClient cluster) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await cluster.GetGrain<ICatalogGrain>(0).GetValueChains().WaitAsync(TimeSpan.FromSeconds(5), cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy("the Orleans cluster does not answer", ex);
        }
    }
}
