using System.Collections.Concurrent;
using Microsoft.AspNetCore.SignalR;

namespace AnalyticsEngine.Gateway.Streaming;

/// <summary>
/// SignalR's in-memory lifetime manager for the KPI hub that also hands out a connection by id, so the fan-out
/// can write one already-serialized message to each viewer (<see cref="SeriesChange"/>) instead of asking SignalR
/// to serialize the same values again for every connection.
/// </summary>
public sealed class KpiHubConnections(ILogger<DefaultHubLifetimeManager<KpiHub>> logger) : DefaultHubLifetimeManager<KpiHub>(logger)
{
    private readonly ConcurrentDictionary<string, HubConnectionContext> _connections = new(StringComparer.Ordinal);

    /// <summary>The open connection with this id, or null once it has closed.</summary>
    public HubConnectionContext? Find(string connectionId) => _connections.GetValueOrDefault(connectionId);

    public override Task OnConnectedAsync(HubConnectionContext connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        _connections[connection.ConnectionId] = connection;
        return base.OnConnectedAsync(connection);
    }

    public override Task OnDisconnectedAsync(HubConnectionContext connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        _connections.TryRemove(connection.ConnectionId, out _);
        return base.OnDisconnectedAsync(connection);
    }
}
