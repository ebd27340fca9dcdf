using System.Diagnostics;
using System.Diagnostics.Metrics;
using AnalyticsEngine.Kpi;
using AnalyticsEngine.ServiceDefaults;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;

namespace AnalyticsEngine.Gateway.Streaming;

/// <summary>One watched series: a KPI of a client at one granularity.</summary>
public readonly record struct WatchKey(string ClientId, string KpiCode, Granularity Granularity)
{
    public override string ToString() => $"{ClientId}/{KpiCode}/{Granularity}";
}

/// <summary>
/// Compute once, fan out: however many connections of this gateway watch a series, the gateway holds one
/// upstream watch on the KPI grain (through a single observer) and hands each change to every viewing
/// connection's <see cref="ConnectionOutbox"/>, which conflates what a slow connection cannot take yet.
/// The last viewer leaving ends the upstream watch. Watches are leases, renewed here periodically.
/// </summary>
public sealed class KpiFanout : BackgroundService, IKpiObserver
{
    private static readonly TimeSpan RenewEvery = KpiGrainLease.Renewal;

    /// <summary>How soon a watch that could not be renewed is tried again.</summary>
    private static readonly TimeSpan RetryEvery = TimeSpan.FromSeconds(3);

    /// <summary>How many of a series' newest buckets a renewal reads back and repairs.</summary>
    internal const int RepairedBuckets = 16;

    private const int RenewalsInParallel = 32;

    private readonly IClusterClient _cluster;
    private readonly KpiHubConnections _connections;
    private readonly ILogger<KpiFanout> _logger;
    private readonly Lock _gate = new();
    private readonly Dictionary<WatchKey, HashSet<string>> _viewersByKey = [];
    private readonly Dictionary<string, HashSet<WatchKey>> _keysByConnection = [];
    private readonly Dictionary<string, ConnectionOutbox> _outboxes = [];
    // Per series, the versions of its newest buckets viewers were sent, so the renewal round sends what a lost push
    // left behind, and nothing they have.
    private readonly Dictionary<WatchKey, SentVersions> _sent = [];
    private readonly Meter _meter = new(Telemetry.MeterName);
    private readonly Counter<long> _pushes;
    private readonly Counter<long> _conflated;
    private readonly Histogram<double> _commitToPush;
    private readonly HashSet<WatchKey> _failedRenewals = [];

    private readonly SeriesResets _resets = new();
    private readonly HashSet<WatchKey> _failedResets = [];
    private readonly int _recentBuckets;

    // Connections closed while a call of theirs may still be running, and when: pruned after ClosedRemembered.
    private readonly Dictionary<string, long> _closedAt = [];
    private static readonly TimeSpan ClosedRemembered = TimeSpan.FromMinutes(2);
    private TaskCompletionSource<bool> _renewNow = NewSignal();

    // When the renewal a few seconds after a silo left is due (0: none): the cluster settles over those seconds, and a
    // push lost meanwhile is repaired then rather than at the next round.
    private long _settledRenewalDue;
    private static readonly TimeSpan SettleTime = TimeSpan.FromSeconds(5);
    private IKpiObserver? _reference;

    public KpiFanout(IClusterClient cluster, KpiHubConnections connections, IOptions<GatewayLimits> limits, ILogger<KpiFanout> logger)
    {
        _cluster = cluster;
        _recentBuckets = limits.Value.RecentBuckets;
        _connections = connections;
        _logger = logger;
        _pushes = _meter.CreateCounter<long>("ae.gateway.pushes", "{message}", "KPI change messages sent to connections");
        _conflated = _meter.CreateCounter<long>("ae.gateway.conflated_values", "{value}",
            "Pending values a newer value of the same bucket replaced before a slow connection could take them");
        _commitToPush = _meter.CreateHistogram<double>("ae.gateway.commit_to_push", "ms",
            "From the commit of the batch that changed a value to a connection's transport taking the push, per value and connection",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000] });
        _meter.CreateObservableGauge("ae.gateway.pending_values", () => { lock (_gate) { return _outboxes.Values.Sum(o => o.PendingCount); } },
            "{value}", "Values waiting, conflated, for connections that have not taken the previous push yet");
        _meter.CreateObservableGauge("ae.gateway.watched_series", () => { lock (_gate) { return _viewersByKey.Count; } },
            "{series}", "Series with at least one viewer on this gateway");
        _meter.CreateObservableGauge("ae.gateway.viewers", () => { lock (_gate) { return _viewersByKey.Values.Sum(v => v.Count); } },
            "{subscription}", "Subscriptions held by connections of this gateway");
        // Viewers per series as a distribution: a gauge per client and KPI would make a time series per watched
        // series (thousands, coming and going); a handful of fixed ranges and the maximum say how wide fan-out is.
        _meter.CreateObservableGauge("ae.gateway.series_by_viewers", SeriesByViewers,
            "{series}", "Watched series by how many connections of this gateway view them (tag viewers: 1, 2-10, 11-100, 101-1000, >1000)");
        _meter.CreateObservableGauge("ae.gateway.max_viewers_per_series", () => { lock (_gate) { return _viewersByKey.Values.Select(v => v.Count).DefaultIfEmpty().Max(); } },
            "{connection}", "Viewers of the most watched series on this gateway");
    }

    private static readonly (long UpTo, string Tag)[] ViewerRanges = [(1, "1"), (10, "2-10"), (100, "11-100"), (1_000, "101-1000"), (long.MaxValue, ">1000")];

    private IEnumerable<Measurement<long>> SeriesByViewers()
    {
        var counts = new long[ViewerRanges.Length];
        lock (_gate)
        {
            foreach (var viewers in _viewersByKey.Values)
            {
                counts[Array.FindIndex(ViewerRanges, r => viewers.Count <= r.UpTo)]++;
            }
        }

        return ViewerRanges.Select((range, i) => new Measurement<long>(counts[i], new KeyValuePair<string, object?>("viewers", range.Tag)));
    }

    /// <summary>This gateway's observer, as KPI grains know it (one for every series it watches).</summary>
    public IKpiObserver Reference => _reference ??= _cluster.CreateObjectReference<IKpiObserver>(this);

    public bool CanAdd(string connectionId, WatchKey key, int limit)
    {
        lock (_gate)
        {
            return !_keysByConnection.TryGetValue(connectionId, out var keys) || keys.Contains(key) || keys.Count < limit;
        }
    }

    public bool IsViewing(string connectionId, WatchKey key)
    {
        lock (_gate)
        {
            return _keysByConnection.TryGetValue(connectionId, out var keys) && keys.Contains(key);
        }
    }

    /// <summary>Values waiting for one connection: at most one per (series, bucket) it watches.</summary>
    public int PendingValues(string connectionId)
    {
        lock (_gate)
        {
            return _outboxes.TryGetValue(connectionId, out var outbox) ? outbox.PendingCount : 0;
        }
    }

    /// <summary>Makes the connection a viewer of the series, then answers the snapshot (so no change falls between).</summary>
    public async Task<KpiSnapshot> AddViewerAsync(string connectionId, WatchKey key, int recentBuckets)
    {
        var added = AddViewer(connectionId, key);
        KpiSnapshot snapshot;
        try
        {
            // Every viewer gets a fresh snapshot; only the first one registers upstream.
            snapshot = added == Added.FirstViewer
                ? await KpiGrainOf(key).Watch(Reference, key.Granularity, recentBuckets)
                : await ClientGrainOf(key).GetSnapshot(key.KpiCode, key.Granularity, recentBuckets);
        }
        catch
        {
            await ForgetAsync(connectionId, key, added);
            throw;
        }

        if (snapshot.Current is null)
        {
            // The KPI was deselected or deleted after the hub checked it.
            await ForgetAsync(connectionId, key, added);
            throw new HubException(NotComputed(key));
        }

        // Only the first viewer's snapshot tells what all viewers have: a later one's may hold a version an earlier
        // viewer missed (a lost push), which the next renewal must still repair; a repeat it may bring is dropped.
        if (added == Added.FirstViewer)
        {
            lock (_gate)
            {
                RememberSentLocked(key, snapshot.Recent);
            }
        }

        ResetIfRedefined(key, snapshot.Definition);
        return snapshot;
    }

    /// <summary>Makes the connection a viewer of the series, then answers what differs from the buckets it <paramref name="held"/>.</summary>
    public async Task<KpiResume> ResumeViewerAsync(string connectionId, WatchKey key, int recentBuckets, IReadOnlyList<KpiBucketVersion> held)
    {
        var added = AddViewer(connectionId, key);
        KpiResume resume;
        try
        {
            if (added == Added.FirstViewer)
            {
                await KpiGrainOf(key).Watch(Reference, key.Granularity, 1);
            }

            resume = await ClientGrainOf(key).Resume(key.KpiCode, key.Granularity, recentBuckets, held);
        }
        catch
        {
            await ForgetAsync(connectionId, key, added);
            throw;
        }

        if (resume.Current == default)
        {
            await ForgetAsync(connectionId, key, added);
            throw new HubException(NotComputed(key));
        }

        // Only the first viewer's answer tells what all viewers have (as for a snapshot, AddViewerAsync): the buckets it
        // held that the answer left out (they equal the server's), and those it answered.
        if (added == Added.FirstViewer)
        {
            lock (_gate)
            {
                var answered = resume.Changed.Select(v => v.BucketStart).ToHashSet();
                foreach (var same in held.Where(h => !answered.Contains(h.BucketStart)))
                {
                    RememberSentLocked(key, same);
                }

                RememberSentLocked(key, resume.Changed);
            }
        }

        ResetIfRedefined(key, resume.Definition);
        return resume;
    }

    /// <summary>What <see cref="AddViewer"/> did.</summary>
    private enum Added
    {
        /// <summary>The connection already viewed the series.</summary>
        AlreadyViewing,

        /// <summary>The connection is a new viewer of a series this gateway already watches.</summary>
        Viewer,

        /// <summary>The connection is the series' first viewer on this gateway: the upstream watch is its to make.</summary>
        FirstViewer,
    }

    private Added AddViewer(string connectionId, WatchKey key)
    {
        lock (_gate)
        {
            // A call still running when its connection closed must not leave a viewer behind that nothing removes.
            if (_closedAt.ContainsKey(connectionId))
            {
                throw new HubException("The connection is closing.");
            }

            if (!_viewersByKey.TryGetValue(key, out var viewers))
            {
                _viewersByKey[key] = viewers = [];
            }

            var first = viewers.Count == 0;
            if (!viewers.Add(connectionId))
            {
                return Added.AlreadyViewing;
            }

            if (!_keysByConnection.TryGetValue(connectionId, out var keys))
            {
                _keysByConnection[connectionId] = keys = [];
                _outboxes[connectionId] = NewOutbox(connectionId);
            }

            keys.Add(key);
            return first ? Added.FirstViewer : Added.Viewer;
        }
    }

    private ConnectionOutbox NewOutbox(string connectionId)
    {
        // A viewer is added from a call on its connection, so the connection is there unless it is closing right now.
        var connection = _connections.Find(connectionId);
        return new ConnectionOutbox(
            async change =>
            {
                if (connection is null)
                {
                    return;
                }

                // The message is serialized once per protocol for all viewers of the change (see SeriesChange).
                await connection.WriteAsync(change.Message);
                _pushes.Add(1);
                RecordCommitToPush(change.Values);
            },
            count => _conflated.Add(count),
            ex => _logger.LogDebug(ex, "Pushing to connection {Connection} failed", connectionId));
    }

    private void RecordCommitToPush(IReadOnlyList<KpiValue> values)
    {
        var now = DateTimeOffset.UtcNow;
        foreach (var value in values)
        {
            if (value.CommittedAt is { } committedAt)
            {
                _commitToPush.Record((now - committedAt).TotalMilliseconds);
            }
        }
    }

    public async Task RemoveViewerAsync(string connectionId, WatchKey key)
    {
        bool last;
        lock (_gate)
        {
            last = RemoveLocked(connectionId, key);
            if (_keysByConnection.TryGetValue(connectionId, out var keys))
            {
                keys.Remove(key);
            }

            _outboxes.GetValueOrDefault(connectionId)?.Discard(key);
        }

        if (last)
        {
            await KpiGrainOf(key).Unwatch(Reference, key.Granularity);
        }
    }

    /// <summary>Undoes what <see cref="AddViewer"/> did for a call that then failed.</summary>
    private Task ForgetAsync(string connectionId, WatchKey key, Added added) =>
        added == Added.AlreadyViewing ? Task.CompletedTask : RemoveViewerAsync(connectionId, key);

    public async Task RemoveConnectionAsync(string connectionId)
    {
        List<WatchKey> emptied = [];
        lock (_gate)
        {
            _closedAt[connectionId] = Stopwatch.GetTimestamp();
            if (_keysByConnection.Remove(connectionId, out var keys))
            {
                emptied.AddRange(keys.Where(key => RemoveLocked(connectionId, key)));
            }

            if (_outboxes.Remove(connectionId, out var outbox))
            {
                outbox.Close();
            }
        }

        foreach (var key in emptied)
        {
            await KpiGrainOf(key).Unwatch(Reference, key.Granularity);
        }
    }

    /// <summary>Called by KPI grains; hands each series' values to the outbox of every connection viewing it.</summary>
    public Task OnKpiChanged(KpiValue[] changes)
    {
        foreach (var series in changes.GroupBy(c => new WatchKey(c.ClientId, c.KpiCode, c.Granularity)))
        {
            var values = series.OrderBy(v => v.BucketStart).ToArray();
            List<ConnectionOutbox>? outboxes;
            lock (_gate)
            {
                outboxes = TakeLocked(series.Key, values);
            }

            Offer(series.Key, values, outboxes);
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// Records values about to be sent to the series' viewers (as sent, and for a reset under way) and answers their
    /// outboxes; null when the series has no viewers.
    /// </summary>
    private List<ConnectionOutbox>? TakeLocked(WatchKey key, KpiValue[] values)
    {
        if (!_viewersByKey.TryGetValue(key, out var viewers))
        {
            return null;
        }

        RememberSentLocked(key, values);
        _resets.Record(key, values);
        return [.. viewers.Select(_outboxes.GetValueOrDefault).OfType<ConnectionOutbox>()];
    }

    private static void Offer(WatchKey key, KpiValue[] values, List<ConnectionOutbox>? outboxes)
    {
        if (outboxes is null || values.Length == 0)
        {
            return;
        }

        var change = new SeriesChange(key, values);
        foreach (var outbox in outboxes)
        {
            outbox.Offer(change);
        }
    }

    /// <summary>
    /// Renews every upstream watch before its lease runs out, which also re-creates a watch whose KPI grain was
    /// lost with a silo. Watches that could not be renewed (their grain's silo just died, and the cluster has not
    /// declared it dead yet) are tried again every few seconds until they are, rather than at the next round.
    /// </summary>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var renewal = new PeriodicTimer(RenewEvery);
        using var retry = new PeriodicTimer(RetryEvery);
        var nextRenewal = renewal.WaitForNextTickAsync(stoppingToken).AsTask();
        var nextRetry = retry.WaitForNextTickAsync(stoppingToken).AsTask();
        while (true)
        {
            var woken = await Task.WhenAny(nextRenewal, nextRetry, _renewNow.Task);
            if (stoppingToken.IsCancellationRequested || !await woken)
            {
                return;
            }

            WatchKey[] keys;
            WatchKey[] resets = [];
            lock (_gate)
            {
                if (woken == _renewNow.Task)
                {
                    _renewNow = NewSignal();
                }

                // Every watch at a round, when told to, and once the cluster has settled; only the failed ones otherwise.
                var settled = _settledRenewalDue != 0 && Stopwatch.GetTimestamp() >= _settledRenewalDue;
                var everyWatch = woken != nextRetry || settled;
                if (everyWatch && settled)
                {
                    _settledRenewalDue = 0;
                }

                keys = everyWatch ? [.. _viewersByKey.Keys] : [.. _failedRenewals.Where(_viewersByKey.ContainsKey)];
                _failedRenewals.Clear();
                if (woken == nextRetry)
                {
                    resets = [.. _failedResets.Where(_viewersByKey.ContainsKey)];
                    _failedResets.Clear();
                }

                // A call outlives its connection by the grain call's timeout at most.
                foreach (var closed in _closedAt.Where(c => Stopwatch.GetElapsedTime(c.Value) > ClosedRemembered).Select(c => c.Key).ToList())
                {
                    _closedAt.Remove(closed);
                }
            }

            if (woken == nextRenewal)
            {
                nextRenewal = renewal.WaitForNextTickAsync(stoppingToken).AsTask();
            }
            else if (woken == nextRetry)
            {
                nextRetry = retry.WaitForNextTickAsync(stoppingToken).AsTask();
            }

            // In parallel: a call to a grain on a silo that just died may wait out the response timeout, and one
            // after another those would hold back every other series' renewal.
            await Parallel.ForEachAsync(keys, new ParallelOptions { MaxDegreeOfParallelism = RenewalsInParallel, CancellationToken = stoppingToken },
                async (key, _) => await RenewAsync(key));
            foreach (var key in resets)
            {
                _ = ResetAsync(key);
            }
        }
    }

    /// <summary>Called by a KPI grain that deactivates: its watches of this gateway are renewed at once.</summary>
    public Task OnWatchEnded(string clientId, string kpiCode, Granularity granularity)
    {
        var key = new WatchKey(clientId, kpiCode, granularity);
        bool watched;
        lock (_gate)
        {
            watched = _viewersByKey.ContainsKey(key);
        }

        if (watched)
        {
            _ = RenewAsync(key);
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// Called by a KPI grain whose KPI the client grain rebuilt under a new definition: every viewer of the series is
    /// sent the rebuilt series (<c>kpiReset</c>) to keep in place of what it holds.
    /// </summary>
    public Task OnSeriesRedefined(string clientId, string kpiCode, Granularity granularity)
    {
        _ = ResetAsync(new WatchKey(clientId, kpiCode, granularity));
        return Task.CompletedTask;
    }

    /// <summary>Called by a KPI grain whose KPI is no longer computed: its viewers are told why (<c>kpiEnded</c>) and dropped.</summary>
    public Task OnSeriesEnded(string clientId, string kpiCode, Granularity granularity, string reason)
    {
        EndSeries(new WatchKey(clientId, kpiCode, granularity), reason);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Reads the series' snapshot once for all its viewers on this gateway and sends it to each in place of what it
    /// holds; values pushed meanwhile follow it (<see cref="SeriesResets.TryFinish"/>). A failed read is tried again
    /// every <see cref="RetryEvery"/> while the series has viewers.
    /// </summary>
    private async Task ResetAsync(WatchKey key)
    {
        lock (_gate)
        {
            if (!_viewersByKey.ContainsKey(key) || !_resets.TryStart(key))
            {
                return;
            }
        }

        try
        {
            while (true)
            {
                var snapshot = await ClientGrainOf(key).GetSnapshot(key.KpiCode, key.Granularity, _recentBuckets);
                if (snapshot.Current is null)
                {
                    lock (_gate)
                    {
                        _resets.Abandon(key);
                    }

                    EndSeries(key, NotComputed(key));
                    await KpiGrainOf(key).Unwatch(Reference, key.Granularity);
                    return;
                }

                lock (_gate)
                {
                    if (!_resets.TryFinish(key, snapshot, out var after))
                    {
                        continue; // redefined again while this was read
                    }

                    if (!_viewersByKey.TryGetValue(key, out var viewers))
                    {
                        return;
                    }

                    // Replaces what was sent, whatever its revisions: the rebuilt series counts afresh.
                    _sent.Remove(key);
                    RememberSentLocked(key, [.. snapshot.Recent, .. after]);

                    // Under the lock, as EndSeries is: an end of the series is never overtaken by this reset.
                    var reset = SeriesChange.Reset(key, snapshot);
                    var pushed = after.Length > 0 ? new SeriesChange(key, after) : null;
                    foreach (var outbox in viewers.Select(_outboxes.GetValueOrDefault).OfType<ConnectionOutbox>())
                    {
                        outbox.Replace(reset);
                        if (pushed is not null)
                        {
                            outbox.Offer(pushed);
                        }
                    }
                }

                return;
            }
        }
        catch (Exception ex)
        {
            _logger.LogWarning(ex, "Reading the redefined series {Series} failed; retrying in {Delay}", key, RetryEvery);
            lock (_gate)
            {
                _resets.Abandon(key);
                _failedResets.Add(key);
            }
        }
    }

    /// <summary>Tells every viewer of the series that it ended and why, and forgets them (the KPI grain has forgotten the watch).</summary>
    private void EndSeries(WatchKey key, string reason)
    {
        lock (_gate)
        {
            if (!_viewersByKey.Remove(key, out var viewers))
            {
                return;
            }

            _sent.Remove(key);
            _resets.Forget(key);
            _failedRenewals.Remove(key);
            _failedResets.Remove(key);
            var ended = SeriesChange.Ended(key, reason);
            foreach (var connectionId in viewers)
            {
                _keysByConnection.GetValueOrDefault(connectionId)?.Remove(key);
                _outboxes.GetValueOrDefault(connectionId)?.Replace(ended);
            }
        }

        _logger.LogInformation("Series {Series} ended: {Reason}", key, reason);
    }

    private static string NotComputed(WatchKey key) =>
        $"KPI '{key.KpiCode}' is not computed for client '{key.ClientId}': it is not selected, or its formula does not compile.";

    /// <summary>Starts a reset of the series when a snapshot or answer says its viewers hold another definition's values.</summary>
    private void ResetIfRedefined(WatchKey key, string? definition)
    {
        bool changed;
        lock (_gate)
        {
            changed = _viewersByKey.ContainsKey(key) && _resets.DefinitionChanged(key, definition);
        }

        if (changed)
        {
            _ = ResetAsync(key);
        }
    }

    /// <summary>
    /// Called by the Orleans client when the number of silos it is connected to changes: fewer means a silo left,
    /// possibly with KPI grains this gateway watches, so every watch is renewed now (those that fail, again every
    /// <see cref="RetryEvery"/>), and once more when the cluster has settled (<see cref="SettleTime"/>).
    /// </summary>
    public void OnGatewayCountChanged(GatewayCountChangedEventArgs change)
    {
        ArgumentNullException.ThrowIfNull(change);
        if (change.NumberOfConnectedGateways < change.PreviousNumberOfConnectedGateways)
        {
            lock (_gate)
            {
                _renewNow.TrySetResult(true);
                _settledRenewalDue = Stopwatch.GetTimestamp() + (long)(SettleTime.TotalSeconds * Stopwatch.Frequency);
            }
        }
    }

    /// <summary>Renews one upstream watch; a failure leaves it to the next retry.</summary>
    private async Task RenewAsync(WatchKey key)
    {
        try
        {
            var snapshot = await KpiGrainOf(key).Watch(Reference, key.Granularity, RepairedBuckets);
            if (snapshot.Current is null)
            {
                // Deselected or deleted while the KPI grain that would have said so was gone (its silo left, say).
                EndSeries(key, NotComputed(key));
                await KpiGrainOf(key).Unwatch(Reference, key.Granularity);
                return;
            }

            ResetIfRedefined(key, snapshot.Definition);

            // Whatever changed in a recent bucket while a grain was being re-created, or in a push lost on the way,
            // reaches viewers now; a value viewers already have is not sent again. Found and recorded in one step, so
            // that two renewals of the series at once do not both send it.
            KpiValue[] unsent;
            List<ConnectionOutbox>? outboxes = null;
            lock (_gate)
            {
                unsent = _sent.TryGetValue(key, out var sent) ? sent.Unsent(snapshot.Recent) : [];
                if (unsent.Length > 0)
                {
                    outboxes = TakeLocked(key, unsent);
                }
            }

            Offer(key, unsent, outboxes);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _logger.LogWarning(ex, "Renewing the watch of {Series} failed; retrying in {Delay}", key, RetryEvery);
            lock (_gate)
            {
                _failedRenewals.Add(key);
            }
        }
    }

    private static TaskCompletionSource<bool> NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    public override void Dispose()
    {
        _meter.Dispose();
        base.Dispose();
    }

    private bool RemoveLocked(string connectionId, WatchKey key)
    {
        if (!_viewersByKey.TryGetValue(key, out var viewers) || !viewers.Remove(connectionId) || viewers.Count > 0)
        {
            return false;
        }

        _viewersByKey.Remove(key);
        _sent.Remove(key);
        _resets.Forget(key);
        return true;
    }

    private void RememberSentLocked(WatchKey key, KpiBucketVersion version) => SentOfLocked(key)?.Remember(version);

    private void RememberSentLocked(WatchKey key, IEnumerable<KpiValue> values) => SentOfLocked(key)?.Remember(values);

    /// <summary>What the series' viewers were sent; null when it has none.</summary>
    private SentVersions? SentOfLocked(WatchKey key)
    {
        if (!_viewersByKey.ContainsKey(key))
        {
            return null;
        }

        if (!_sent.TryGetValue(key, out var sent))
        {
            _sent[key] = sent = new SentVersions(RepairedBuckets);
        }

        return sent;
    }

    private IClientKpiGrain ClientGrainOf(WatchKey key) => _cluster.GetGrain<IClientKpiGrain>(key.ClientId);

    private IKpiGrain KpiGrainOf(WatchKey key) => _cluster.GetGrain<IKpiGrain>(KpiGrainKeys.For(key.ClientId, key.KpiCode));
}
