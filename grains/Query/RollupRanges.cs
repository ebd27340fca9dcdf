namespace AnalyticsEngine.Query;

/// <summary>
/// Where a query reads each part of its buckets: whole rollup slots (longest first) where a bucket holds them, raw
/// rows for the rest (the edges). No slot crosses a bucket boundary, so a slot's start names its bucket.
/// </summary>
/// <param name="Slots">Runs of whole slots <c>[From, To)</c> of one length, in ticks; adjacent runs of a length merged.</param>
/// <param name="Raw">Ranges <c>[From, To)</c> read from raw rows; adjacent ones merged.</param>
internal sealed record RollupRanges(IReadOnlyList<RollupRanges.SlotRun> Slots, IReadOnlyList<RollupRanges.TickRange> Raw)
{
    internal readonly record struct SlotRun(int Minutes, long From, long To);

    internal readonly record struct TickRange(long From, long To);

    /// <summary>
    /// Splits each bucket of <paramref name="boundaries"/> over <paramref name="slotMinutes"/> (longest first) and raw
    /// rows; the parts of buckets inside <paramref name="raw"/> (in time order, not overlapping) are read raw whatever
    /// slots they hold.
    /// </summary>
    public static RollupRanges Split(IReadOnlyList<long> boundaries, IReadOnlyList<int> slotMinutes, IReadOnlyList<TickRange>? raw = null)
    {
        var slots = new List<SlotRun>();
        var edges = new List<TickRange>();
        for (var b = 1; b < boundaries.Count; b++)
        {
            var from = boundaries[b - 1];
            var to = boundaries[b];
            foreach (var range in raw ?? [])
            {
                if (range.To <= from || range.From >= to)
                {
                    continue;
                }

                var start = Math.Max(from, range.From);
                var end = Math.Min(to, range.To);
                Cover(from, start, 0);
                AddRaw(start, end);
                from = end;
            }

            Cover(from, to, 0);
        }

        return new RollupRanges(slots, edges);

        void AddRaw(long from, long to)
        {
            if (from >= to)
            {
                return;
            }

            if (edges.Count > 0 && edges[^1].To == from)
            {
                edges[^1] = edges[^1] with { To = to };
            }
            else
            {
                edges.Add(new TickRange(from, to));
            }
        }

        void Cover(long from, long to, int level)
        {
            if (from >= to)
            {
                return;
            }

            if (level == slotMinutes.Count)
            {
                AddRaw(from, to);
                return;
            }

            var length = slotMinutes[level] * TimeSpan.TicksPerMinute;
            var first = CeilingTo(from, length);
            var last = FloorTo(to, length);
            if (first >= last)
            {
                Cover(from, to, level + 1);
                return;
            }

            Cover(from, first, level + 1);
            var run = slots.FindLastIndex(s => s.Minutes == slotMinutes[level]);
            if (run >= 0 && slots[run].To == first)
            {
                slots[run] = slots[run] with { To = last };
            }
            else
            {
                slots.Add(new SlotRun(slotMinutes[level], first, last));
            }

            Cover(last, to, level + 1);
        }
    }

    /// <summary>Ticks covered by slots.</summary>
    public long SlotTicks => Slots.Sum(s => s.To - s.From);

    private static long FloorTo(long ticks, long length) => ticks - (((ticks % length) + length) % length);

    private static long CeilingTo(long ticks, long length)
    {
        var floor = FloorTo(ticks, length);
        return floor == ticks ? ticks : floor + length;
    }
}
