using AnalyticsEngine.Catalog;

namespace AnalyticsEngine.Archive;

/// <summary>
/// Which archived segments a query over old days must have back as rows, and where it must read raw rows instead of
/// rollups.
/// </summary>
/// <remarks>
/// Archival moves an event object's rows out but keeps their rollup slots until both horizons have passed, and it moves
/// only rows already rolled up. So the rollups of a term hold an archived segment's rows when the term's rollups held
/// every row before the segment left (their <c>query.rollup_terms.whole_after_segment</c> is older) and the run has
/// not deleted the segment's slots since. Such days are read from rollups and stay archived. The others are read raw,
/// for every object model the query reads through rollups (its raw ranges are the query's, not a model's), so the
/// rows of every such model on those days come back; so do all the archived rows of a model the query reads raw.
/// </remarks>
public static class ArchiveReadPlan
{
    /// <summary>What <see cref="Decide"/> found.</summary>
    /// <param name="Read">How many segments the query's range reaches.</param>
    /// <param name="Restore">The segments whose rows the query needs back (some may be back already).</param>
    /// <param name="RawRowModels">The object models the query must read raw: it reads no rollups of them, or they do not hold every row.</param>
    public sealed record Plan(
        int Read, IReadOnlyList<ArchiveSegment> Restore, IReadOnlyList<ArchivedRange> RawRanges, IReadOnlyList<ArchivedThroughRollups> ThroughRollups,
        IReadOnlyList<string> RawRowModels, DateTimeOffset? RollupsDeletedBefore)
    {
        /// <summary>What the query is told.</summary>
        public ArchiveAccess Access(int restored) => new(RawRanges, ThroughRollups, RawRowModels, Read, restored, RollupsDeletedBefore);
    }

    /// <summary>Whether the query may read a segment of this client: its range reaches some segment of a model it reads.</summary>
    public static bool ReachesAny(IEnumerable<ArchiveSegment> segments, ArchiveQuery ask, Func<string, ObjectKind?> kindOf) =>
        Reached(segments, ask, kindOf).Any();

    /// <param name="segments">The client's segments.</param>
    /// <param name="ask">The query.</param>
    /// <param name="wholeAfter">
    /// Per object model the query reads through rollups whose coverages all hold every row, the most of their
    /// <c>whole_after_segment</c>: they hold the rows of every later segment. A model missing is read raw.
    /// </param>
    /// <param name="rollupsDeletedBefore">Rollup slots starting before this are gone (<c>archive.rollups_deleted</c>).</param>
    /// <param name="kindOf">The kind of an object model, or null for one the catalog does not know.</param>
    public static Plan Decide(
        IEnumerable<ArchiveSegment> segments, ArchiveQuery ask, IReadOnlyDictionary<string, long> wholeAfter, DateTimeOffset? rollupsDeletedBefore,
        Func<string, ObjectKind?> kindOf)
    {
        ArgumentNullException.ThrowIfNull(ask);
        ArgumentNullException.ThrowIfNull(wholeAfter);
        ArgumentNullException.ThrowIfNull(kindOf);
        var reads = ask.Reads.ToDictionary(
            r => r.ObjectModel, r => r.RollupCoverages is not null && wholeAfter.TryGetValue(r.ObjectModel, out var whole) ? whole : (long?)null, StringComparer.Ordinal);
        var read = Reached(segments, ask, kindOf).ToList();

        bool ThroughRollups(ArchiveSegment s) => reads[s.Source] is not null;
        bool RollupsMiss(ArchiveSegment s) =>
            reads[s.Source] is not { } wholeAfter || s.SegmentId <= wholeAfter || s.From < rollupsDeletedBefore;

        // The query's raw edges read rows whatever the rollups hold: their segments come back, their days' slots do not
        // turn raw.
        var raw = Merge(read.Where(s => ThroughRollups(s) && RollupsMiss(s)).Select(s => Clip(s, ask)));
        var restore = read.Where(s => !ThroughRollups(s) || raw.Any(r => Overlap(r, s)) || ask.RawRanges.Any(r => Overlap(r, s))).ToList();
        var throughRollups = read
            .Where(s => ThroughRollups(s) && !raw.Any(r => Overlap(r, s)))
            .GroupBy(s => s.Source, StringComparer.Ordinal)
            .Select(g => new ArchivedThroughRollups(g.Key, g.Min(s => s.SegmentId), g.All(s => s.RestoredUntil is not null || restore.Contains(s))))
            .ToList();
        return new Plan(read.Count, restore, raw, throughRollups, [.. reads.Where(r => r.Value is null).Select(r => r.Key)], rollupsDeletedBefore);
    }

    private static IEnumerable<ArchiveSegment> Reached(IEnumerable<ArchiveSegment> segments, ArchiveQuery ask, Func<string, ObjectKind?> kindOf) =>
        segments.Where(s => ask.Reads.Any(r => r.ObjectModel == s.Source) && kindOf(s.Source) is { } kind && RetentionHorizons.IsRead(s, kind, ask.From, ask.To));

    private static bool Overlap(ArchivedRange range, ArchiveSegment segment) => range.From < segment.To && segment.From < range.To;

    private static ArchivedRange Clip(ArchiveSegment segment, ArchiveQuery ask) =>
        new(segment.From > ask.From ? segment.From : ask.From, segment.To < ask.To ? segment.To : ask.To);

    /// <summary>The ranges in time order, overlapping or adjacent ones merged.</summary>
    private static List<ArchivedRange> Merge(IEnumerable<ArchivedRange> ranges)
    {
        var merged = new List<ArchivedRange>();
        foreach (var range in ranges.Where(r => r.From < r.To).OrderBy(r => r.From))
        {
            if (merged.Count > 0 && range.From <= merged[^1].To)
            {
                merged[^1] = merged[^1] with { To = range.To > merged[^1].To ? range.To : merged[^1].To };
            }
            else
            {
                merged.Add(range);
            }
        }

        return merged;
    }
}
