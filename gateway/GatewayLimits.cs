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

    /// <summary>
    /// How many buckets a resume may list. A JSON entry takes about 80 bytes and a hub message at most 32 KiB,
    /// so the default leaves room; a dashboard holds a window of <see cref="RecentBuckets"/>.
    /// </summary>
    [Range(1, 1440)]
    public int MaxResumeBuckets { get; set; } = 300;
}
