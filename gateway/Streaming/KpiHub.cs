using AnalyticsEngine.Gateway.Api;
using AnalyticsEngine.Gateway.Security;
using AnalyticsEngine.Kpi;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;

namespace AnalyticsEngine.Gateway.Streaming;

/// <summary>
/// Live KPI values. <c>Subscribe(clientId, kpiCode, granularity)</c> answers with the current snapshot and
/// from then on the caller receives <c>kpiChanged(values)</c> for every change; see docs/streaming-api.md.
/// Connecting needs a viewer token (header or <c>access_token</c>); each call checks the client against the token.
/// </summary>
[Authorize(Policy = Policies.Read)]
public sealed class KpiHub(KpiFanout fanout, IClusterClient cluster, IOptions<GatewayLimits> options) : Hub
{
    public const string ChangedMethod = "kpiChanged";

    public async Task<KpiSnapshot> Subscribe(string clientId, string kpiCode, string granularity)
    {
        EnsureClientAccess(clientId);
        if (!Granularities.TryParseStreaming(granularity, out var parsed))
        {
            throw new HubException($"granularity '{granularity}' is not one of {Granularities.StreamingNames}.");
        }

        if (await KpiAccess.FindProblemAsync(cluster, clientId, kpiCode) is { } problem)
        {
            throw new HubException(problem);
        }

        var key = new WatchKey(clientId, kpiCode, parsed);
        if (!fanout.CanAdd(Context.ConnectionId, key, options.Value.MaxSubscriptionsPerConnection))
        {
            throw new HubException($"A connection may hold at most {options.Value.MaxSubscriptionsPerConnection} subscriptions.");
        }

        // Join the group before reading the snapshot, so no change can fall between the two;
        // the client drops any value whose revision it already has.
        await Groups.AddToGroupAsync(Context.ConnectionId, key.GroupName);
        return await fanout.AddViewerAsync(Context.ConnectionId, key, options.Value.RecentBuckets);
    }

    public async Task Unsubscribe(string clientId, string kpiCode, string granularity)
    {
        EnsureClientAccess(clientId);
        if (!Granularities.TryParseStreaming(granularity, out var parsed))
        {
            throw new HubException($"granularity '{granularity}' is not one of {Granularities.StreamingNames}.");
        }

        var key = new WatchKey(clientId, kpiCode, parsed);
        await Groups.RemoveFromGroupAsync(Context.ConnectionId, key.GroupName);
        await fanout.RemoveViewerAsync(Context.ConnectionId, key);
    }

    private void EnsureClientAccess(string clientId)
    {
        if (clientId is null || !ClientAccess.IsWellFormed(clientId))
        {
            throw new HubException($"clientId must be {ClientAccess.FormatDescription}.");
        }

        if (Context.User is not { } user || !ClientAccess.CanAccess(user, clientId))
        {
            throw new HubException(ClientAccess.DeniedMessage(clientId));
        }
    }

    public override async Task OnDisconnectedAsync(Exception? exception)
    {
        await fanout.RemoveConnectionAsync(Context.ConnectionId);
        await base.OnDisconnectedAsync(exception);
    }
}
