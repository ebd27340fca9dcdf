using System.Collections.Concurrent;
using AnalyticsEngine.Kpi;

namespace AnalyticsEngine.PipelineBench;

/// <summary>
/// Stands in for a gateway: watches one KPI of some clients through their KPI grains (which turns on the client
/// grain's publishing for that KPI) and records every pushed change, so the run can check that the KPI grain
/// received the final value and time commit-to-push for the watched clients.
/// </summary>
public sealed class KpiWatch : IKpiObserver
{
    private readonly ConcurrentDictionary<string, ClientPushes> _clients = new(StringComparer.Ordinal);

    /// <summary>The run watches for a few seconds on one silo; its KPI grains are not deactivated meanwhile.</summary>
    public Task OnWatchEnded(string clientId, string kpiCode, Granularity granularity) => Task.CompletedTask;

    public Task OnSeriesRedefined(string clientId, string kpiCode, Granularity granularity) => Task.CompletedTask;

    public Task OnSeriesEnded(string clientId, string kpiCode, Granularity granularity, string reason) => Task.CompletedTask;

    public Task OnKpiChanged(KpiValue[] changes)
    {
        var now = DateTimeOffset.UtcNow;
        foreach (var change in changes)
        {
            var pushes = _clients.GetOrAdd(change.ClientId, _ => new ClientPushes());
            var sequence = change.AsOf.FirstOrDefault(p => p.ObjectModel == Workload.ObjectModel)?.Sequence ?? 0;
            lock (pushes)
            {
                pushes.FirstSeen.TryAdd(sequence, now);
                if (!pushes.Buckets.TryGetValue(change.BucketStart, out var known) || known.Revision < change.Revision)
                {
                    pushes.Buckets[change.BucketStart] = change;
                }
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>Events counted by the latest pushed value of every bucket of <paramref name="clientId"/>.</summary>
    public long CountedEvents(string clientId)
    {
        if (!_clients.TryGetValue(clientId, out var pushes))
        {
            return 0;
        }

        lock (pushes)
        {
            return pushes.Buckets.Values.Sum(v => (long)(v.Value ?? 0));
        }
    }

    /// <summary>When a push covering exactly sequence <paramref name="sequence"/> first arrived, if one did.</summary>
    public DateTimeOffset? FirstPushOf(string clientId, long sequence)
    {
        if (!_clients.TryGetValue(clientId, out var pushes))
        {
            return null;
        }

        lock (pushes)
        {
            return pushes.FirstSeen.TryGetValue(sequence, out var at) ? at : null;
        }
    }

    private sealed class ClientPushes
    {
        public Dictionary<long, DateTimeOffset> FirstSeen { get; } = [];

        public Dictionary<DateTimeOffset, KpiValue> Buckets { get; } = [];
    }
}
