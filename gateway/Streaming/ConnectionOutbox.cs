using AnalyticsEngine.Kpi;

namespace AnalyticsEngine.Gateway.Streaming;

/// <summary>
/// The values waiting to be pushed to one connection. At most one send is in flight; whatever arrives meanwhile
/// waits here, conflated: per (series, bucket) only the newest value is kept, so a connection that cannot keep up
/// costs at most one pending value per bucket it watches instead of a queue that grows with every change.
/// Each connection has its own outbox and sender, so a slow one never delays another.
/// </summary>
/// <param name="send">
/// Delivers one series' values and completes when the transport has taken them (SignalR's send waits while the
/// connection's buffer is full), which is what lets values pile up, conflated, here rather than in the transport.
/// When what is pending for a series is exactly one offered change, that very change is sent, so its message,
/// serialized once, is shared with every other connection it was offered to; a mix that conflation made is a new one.
/// </param>
/// <param name="onConflated">Told how many pending values a newer one made redundant.</param>
/// <param name="onSendFailed">Told when a send throws; the outbox goes on with the next values.</param>
public sealed class ConnectionOutbox(
    Func<SeriesChange, Task> send,
    Action<int> onConflated,
    Action<Exception> onSendFailed)
{
    private readonly Lock _gate = new();
    private Dictionary<(WatchKey Series, DateTimeOffset BucketStart), Pending> _pending = [];
    private Dictionary<(WatchKey Series, DateTimeOffset BucketStart), Pending> _spare = [];

    // Messages that replace a series as a whole, in the order offered; sent before the pending values, which all
    // arrived after them (Replace drops those that did not).
    private List<SeriesChange> _replacements = [];
    private List<SeriesChange> _spareReplacements = [];
    private bool _sending;
    private bool _closed;

    // What was last sent to the connection per series, for its newest SentBuckets buckets. A value offered again in a
    // version the connection was already sent is a repeat and is not sent twice: a client grain that activates again
    // (its silo left) publishes the KPIs it had published, and a renewal may bring a value a push brought already.
    private readonly Dictionary<WatchKey, SortedList<DateTimeOffset, (long Revision, bool IsFinal)>> _sent = [];
    private const int SentBuckets = 16;

    /// <summary>Values waiting for the connection (not counting the send in flight).</summary>
    public int PendingCount
    {
        get { lock (_gate) { return _pending.Count; } }
    }

    /// <summary>
    /// Queues the values of one change; a value replaces a pending one of the same bucket only if it is newer
    /// (<see cref="KpiVersions.IsNewer(KpiValue, KpiValue)"/>), since changes can arrive out of order. Starts sending if idle.
    /// </summary>
    public void Offer(SeriesChange change)
    {
        var conflated = 0;
        bool start;
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }

            foreach (var value in change.Values)
            {
                if (SentLocked(change.Series, value))
                {
                    continue;
                }

                var key = (change.Series, value.BucketStart);
                if (_pending.TryGetValue(key, out var held))
                {
                    conflated++;
                    if (!KpiVersions.IsNewer(value, held.Value))
                    {
                        continue;
                    }
                }

                _pending[key] = new Pending(value, change);
            }

            start = !_sending && _pending.Count > 0;
            _sending |= start;
        }

        if (conflated > 0)
        {
            onConflated(conflated);
        }

        if (start)
        {
            _ = SendPendingAsync();
        }
    }

    /// <summary>
    /// Queues a message that replaces the series as a whole (<see cref="SeriesChange.ReplacesSeries"/>): what is
    /// pending for the series, or an earlier replacement of it not sent yet, is void and dropped; values offered
    /// after it are sent after it. Starts sending if idle.
    /// </summary>
    public void Replace(SeriesChange replacement)
    {
        if (!replacement.ReplacesSeries)
        {
            throw new ArgumentException("Only a message that replaces its series can replace what is pending for it.", nameof(replacement));
        }

        bool start;
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }

            // The series starts again (its revisions with it): nothing sent of it before says what is a repeat now.
            DiscardLocked(replacement.Series);
            _replacements.RemoveAll(r => r.Series == replacement.Series);
            _replacements.Add(replacement);
            start = !_sending;
            _sending = true;
        }

        if (start)
        {
            _ = SendPendingAsync();
        }
    }

    /// <summary>Forgets pending values of a series the connection no longer watches.</summary>
    public void Discard(WatchKey series)
    {
        lock (_gate)
        {
            DiscardLocked(series);
        }
    }

    private void DiscardLocked(WatchKey series)
    {
        foreach (var key in _pending.Keys.Where(k => k.Series == series).ToList())
        {
            _pending.Remove(key);
        }

        _sent.Remove(series);
    }

    /// <summary>Whether the connection was sent <paramref name="value"/>'s bucket in this version or a newer one.</summary>
    private bool SentLocked(WatchKey series, KpiValue value) =>
        _sent.TryGetValue(series, out var buckets)
        && buckets.TryGetValue(value.BucketStart, out var sent)
        && !KpiVersions.IsNewer(value.Revision, value.IsFinal, sent.Revision, sent.IsFinal);

    /// <summary>Remembers a value as sent (as it goes out: a repeat offered meanwhile is not sent again).</summary>
    private void RememberSentLocked(WatchKey series, KpiValue value)
    {
        if (!_sent.TryGetValue(series, out var buckets))
        {
            _sent[series] = buckets = [];
        }

        buckets[value.BucketStart] = (value.Revision, value.IsFinal);
        if (buckets.Count > SentBuckets)
        {
            buckets.RemoveAt(0);
        }
    }

    /// <summary>The connection is gone: drop what is pending and accept nothing more.</summary>
    public void Close()
    {
        lock (_gate)
        {
            _closed = true;
            _pending.Clear();
            _replacements.Clear();
            _sent.Clear();
        }
    }

    private async Task SendPendingAsync()
    {
        while (true)
        {
            Dictionary<(WatchKey Series, DateTimeOffset BucketStart), Pending> batch;
            List<SeriesChange> replacements;
            lock (_gate)
            {
                if (_closed || (_pending.Count == 0 && _replacements.Count == 0))
                {
                    _sending = false;
                    return;
                }

                foreach (var (key, pending) in _pending)
                {
                    RememberSentLocked(key.Series, pending.Value);
                }

                // Swap in the (empty) spares so new values collect while this batch is on its way.
                batch = _pending;
                _pending = _spare;
                _spare = batch;
                replacements = _replacements;
                _replacements = _spareReplacements;
                _spareReplacements = replacements;
            }

            foreach (var replacement in replacements)
            {
                try
                {
                    await send(replacement);
                }
                catch (Exception ex)
                {
                    onSendFailed(ex);
                }
            }

            replacements.Clear();
            foreach (var series in batch.GroupBy(e => e.Key.Series, e => e.Value))
            {
                try
                {
                    await send(Unmixed(series) ?? new SeriesChange(series.Key, [.. series.Select(p => p.Value).OrderBy(v => v.BucketStart)]));
                }
                catch (Exception ex)
                {
                    onSendFailed(ex);
                }
            }

            batch.Clear();
        }
    }

    /// <summary>The offered change itself when the series' pending values are exactly its values, untouched by conflation.</summary>
    private static SeriesChange? Unmixed(IGrouping<WatchKey, Pending> series)
    {
        var change = series.First().From;
        var count = 0;
        foreach (var pending in series)
        {
            if (!ReferenceEquals(pending.From, change))
            {
                return null;
            }

            count++;
        }

        return count == change.Values.Count ? change : null;
    }

    /// <summary>A value waiting to be sent, and the change that brought it.</summary>
    private readonly record struct Pending(KpiValue Value, SeriesChange From);
}
