using System.ComponentModel.DataAnnotations;

namespace AnalyticsEngine.Gateway;

/// <summary>Limits of the gateway, bound from the <c>Gateway</c> configuration section.</summary>
public sealed class GatewayLimits
{
    /// <summary>Largest ingest body accepted; larger ones get 413.</summary>
    [Range(1024, 512 * 1024 * 1024)]
    public long MaxIngestBodyBytes { get; set; } = 32 * 1024 * 1024;

    /// <summary>How many (client, KPI, period) subscriptions one SignalR connection may hold.</summary>
    [Range(1, 10_000)]
    public int MaxSubscriptionsPerConnection { get; set; } = 500;

    /// <summary>How many recent buckets a snapshot carries by default.</summary>
    [Range(1, 1440)]
    public int RecentBuckets { get; set; } = 60;
}
