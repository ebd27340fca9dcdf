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

    /// <summary>Splits each bucket of <paramref name="boundaries"/> over <paramref name="slotMinutes"/> (longest first) and raw rows.</summary>
    public static RollupRanges Split(IReadOnlyList<long> boundaries, IReadOnlyList<int> slotMinutes)
    {
        var slots = new List<SlotRun>();
        var raw = new List<TickRange>();
        for (var b = 1; b < boundaries.Count; b++)
        {
            Cover(boundaries[b - 1], boundaries[b], 0);
        }

        return new RollupRanges(slots, raw);

        void Cover(long from, long to, int level)
        {
            if (from >= to)
            {
                return;
            }

            if (level == slotMinutes.Count)
            {
                if (raw.Count > 0 && raw[^1].To == from)
                {
                    raw[^1] = raw[^1] with { To = to };
                }
                else
                {
                    raw.Add(new TickRange(from, to));
                }

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
