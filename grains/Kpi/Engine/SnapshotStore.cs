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
    public void Compact(long cutoffTicks)
    {
        foreach (var history in _histories.Values)
        {
            var lastBefore = LastBefore(history, cutoffTicks);
            if (lastBefore > 0)
            {
                history.RemoveRange(0, lastBefore);
            }
        }
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
