using AnalyticsEngine.Clients;
using AnalyticsEngine.Gateway.Api;
using AnalyticsEngine.Gateway.Security;
using AnalyticsEngine.Kpi;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;

namespace AnalyticsEngine.Gateway.Streaming;

/// <summary>
/// Live KPI values. <c>Subscribe(clientId, kpiCode, granularity)</c> answers with the current snapshot and
/// from then on the caller receives <c>kpiChanged(values)</c> for every change; after a reconnect,
/// <c>Resume(..., held)</c> answers only what the client missed. See docs/streaming-api.md.
/// Connecting needs a viewer token (header or <c>access_token</c>); each call checks the client against the token.
/// </summary>
[Authorize(Policy = Policies.Read)]
public sealed class KpiHub(KpiFanout fanout, IClusterClient cluster, IOptions<GatewayLimits> options) : Hub
{
    public const string ChangedMethod = "kpiChanged";

    /// <summary>The series was rebuilt under a new definition: the client replaces what it holds with this snapshot.</summary>
    public const string ResetMethod = "kpiReset";

    /// <summary>The series is no longer computed; the connection no longer views it.</summary>
    public const string EndedMethod = "kpiEnded";

    public async Task<KpiSnapshot> Subscribe(string clientId, string kpiCode, string granularity)
    {
        var key = await CheckSubscriptionAsync(clientId, kpiCode, granularity);
        // The connection becomes a viewer before the snapshot is read, so no change can fall between the two;
        // the client drops any pushed value whose revision it already has.
        return await fanout.AddViewerAsync(Context.ConnectionId, key, options.Value.RecentBuckets);
    }

    /// <summary>
    /// Subscribes like <see cref="Subscribe"/> after a reconnect, but answers only what differs from the buckets the
    /// client <paramref name="held"/> (an empty list resumes from nothing): see docs/streaming-api.md, "Resume".
    /// </summary>
    public async Task<KpiResume> Resume(string clientId, string kpiCode, string granularity, KpiBucketVersion[] held)
    {
        var key = await CheckSubscriptionAsync(clientId, kpiCode, granularity);
        CheckHeld(held, options.Value.MaxResumeBuckets);
        try
        {
            // A refused resume leaves no viewer behind (the fan-out takes back what the call added).
            return await fanout.ResumeViewerAsync(Context.ConnectionId, key, options.Value.RecentBuckets, held);
        }
        catch (FormatException misaligned)
        {
            // Only the grain knows the client's time zone, so a bucket start that is no bucket's start shows up there.
            throw new HubException(misaligned.Message);
        }
        catch (Exception outside) when (outside is OverflowException or ArgumentOutOfRangeException)
        {
            throw new HubException("held lists a bucket start too close to the end of the calendar to be a bucket of this series.");
        }
    }

    public async Task Unsubscribe(string clientId, string kpiCode, string granularity)
    {
        EnsureClientAccess(clientId);
        await fanout.RemoveViewerAsync(Context.ConnectionId, new WatchKey(clientId, kpiCode, ParseGranularity(granularity)));
    }

    private async Task<WatchKey> CheckSubscriptionAsync(string clientId, string kpiCode, string granularity)
    {
        EnsureClientAccess(clientId);
        var parsed = ParseGranularity(granularity);
        if (await KpiAccess.FindProblemAsync(cluster, clientId, kpiCode) is { } problem)
        {
            throw new HubException(problem);
        }

        var key = new WatchKey(clientId, kpiCode, parsed);
        if (!fanout.CanAdd(Context.ConnectionId, key, options.Value.MaxSubscriptionsPerConnection))
        {
            throw new HubException($"A connection may hold at most {options.Value.MaxSubscriptionsPerConnection} subscriptions.");
        }

        return key;
    }

    private static Granularity ParseGranularity(string granularity) =>
        Granularities.TryParseStreaming(granularity, out var parsed)
            ? parsed
            : throw new HubException($"granularity '{granularity}' is not one of {Granularities.StreamingNames}.");

    private static void CheckHeld(KpiBucketVersion[]? held, int limit)
    {
        if (held is null)
        {
            throw new HubException("held must list the buckets the client holds (an empty list resumes from nothing).");
        }

        if (held.Length > limit)
        {
            throw new HubException($"held lists {held.Length} buckets; a resume may list at most {limit}.");
        }

        var seen = new HashSet<DateTimeOffset>();
        foreach (var version in held)
        {
            if (version is null)
            {
                throw new HubException("held must not contain null.");
            }

            if (version.Revision < 0)
            {
                throw new HubException($"held lists bucket {version.BucketStart:O} with revision {version.Revision}; revisions are never negative.");
            }

            if (!seen.Add(version.BucketStart))
            {
                throw new HubException($"held lists bucket {version.BucketStart:O} twice.");
            }
        }
    }

    private void EnsureClientAccess(string clientId)
    {
        if (!ClientIds.IsWellFormed(clientId))
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
