using AnalyticsEngine.Ingest;

namespace AnalyticsEngine.Kpi.Engine;

/// <summary>
/// The rows of a snapshot object, per key, sorted by (event time, sequence). The value of a term "as of" an instant
/// folds each key's latest row before that instant, so a newer row replaces an older one's contribution — for
/// sums as for min, max and distinct counts, because nothing is ever subtracted.
/// </summary>
internal sealed class SnapshotStore(ObjectModelLayout layout)
{
    private readonly Dictionary<SnapshotKey, List<EventRow>> _histories = [];

    // Event times of all retained rows, sorted: answers "did any row arrive between two instants?" cheaply, so a
    // series of buckets without rows in between reuses one "as of" collection instead of scanning every key again.
    private readonly List<long> _times = [];

    public int KeyCount => _histories.Count;

    public void Insert(EventRow row)
    {
        var key = KeyOf(row);
        if (!_histories.TryGetValue(key, out var history))
        {
            history = [];
            _histories.Add(key, history);
        }

        var ticks = TimeTicks.Of(row.EventTime);
        var index = history.Count;
        while (index > 0 && Compare(history[index - 1], ticks, row.Sequence) > 0)
        {
            index--;
        }

        history.Insert(index, row);
        var at = _times.Count;
        while (at > 0 && _times[at - 1] > ticks)
        {
            at--;
        }

        _times.Insert(at, ticks);
    }

    /// <summary>True when some retained row has an event time in [<paramref name="from"/>, <paramref name="to"/>).</summary>
    public bool AnyRowBetween(long from, long to)
    {
        int low = 0, high = _times.Count;
        while (low < high)
        {
            var mid = (low + high) >>> 1;
            if (_times[mid] < from)
            {
                low = mid + 1;
            }
            else
            {
                high = mid;
            }
        }

        return low < _times.Count && _times[low] < to;
    }

    /// <summary>Each key's latest row with event time before <paramref name="endTicks"/>; returns the newest such event time.</summary>
    public long CollectAsOf(long endTicks, List<EventRow> into)
    {
        var newest = long.MinValue;
        foreach (var history in _histories.Values)
        {
            var index = LastBefore(history, endTicks);
            if (index < 0)
            {
                continue;
            }

            var row = history[index];
            into.Add(row);
            newest = Math.Max(newest, TimeTicks.Of(row.EventTime));
        }

        return newest;
    }

    /// <summary>Forgets rows no instant at or after <paramref name="cutoffTicks"/> can see: all but the latest row before it.</summary>
    /// <returns>True when rows were removed.</returns>
    public bool Compact(long cutoffTicks)
    {
        var removed = false;
        foreach (var history in _histories.Values)
        {
            var lastBefore = LastBefore(history, cutoffTicks);
            if (lastBefore > 0)
            {
                history.RemoveRange(0, lastBefore);
                removed = true;
            }
        }

        if (!removed)
        {
            return false;
        }

        _times.Clear();
        _times.AddRange(_histories.Values.SelectMany(h => h).Select(r => TimeTicks.Of(r.EventTime)).Order());
        return true;
    }

    public IEnumerable<EventRow> AllRows() => _histories.Values.SelectMany(h => h);

    private static int LastBefore(List<EventRow> history, long endTicks)
    {
        int low = 0, high = history.Count;
        while (low < high)
        {
            var mid = (low + high) >>> 1;
            if (TimeTicks.Of(history[mid].EventTime) < endTicks)
            {
                low = mid + 1;
            }
            else
            {
                high = mid;
            }
        }

        return low - 1;
    }

    private static int Compare(EventRow row, long ticks, long sequence)
    {
        var byTime = TimeTicks.Of(row.EventTime).CompareTo(ticks);
        return byTime != 0 ? byTime : row.Sequence.CompareTo(sequence);
    }

    private SnapshotKey KeyOf(EventRow row)
    {
        var slots = layout.KeySlots;
        if (slots.Count == 1)
        {
            var slot = slots[0];
            return slot.Kind == FieldSlotKind.Number ? new SnapshotKey(row.Numbers[slot.Index], null) : new SnapshotKey(0, row.Texts[slot.Index]);
        }

        // Composite keys (rare for snapshot objects) pay for one string per row.
        var parts = new string?[slots.Count];
        for (var i = 0; i < slots.Count; i++)
        {
            var slot = slots[i];
            parts[i] = slot.Kind == FieldSlotKind.Number
                ? row.Numbers[slot.Index].ToString("R", System.Globalization.CultureInfo.InvariantCulture)
                : row.Texts[slot.Index];
        }

        return new SnapshotKey(slots.Count, string.Join('\u001f', parts));
    }

    private readonly record struct SnapshotKey(double Number, string? Text);
}
