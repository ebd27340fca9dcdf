using AnalyticsEngine.Catalog;
using AnalyticsEngine.Kpi.Formula;

namespace AnalyticsEngine.Kpi.Engine;

/// <summary>Converts an engine's state to and from <see cref="ClientKpiEngineState"/>.</summary>
internal static class EngineCheckpoint
{
    public static ClientKpiEngineState Export(ClientKpiEngine engine)
    {
        var state = new ClientKpiEngineState
        {
            Positions = new Dictionary<string, long>(engine.Positions, StringComparer.Ordinal),
            RetentionStarts = engine.Series.Select(s => s.RetentionStart).ToArray(),
            CurrentStarts = engine.Series.Select(s => s.CurrentStart).ToArray(),
            RevisionsBeforeRetention = engine.Series
                .Select(s => engine.Objects.Where(o => s.RevisionBeforeRetention[o.Index] > 0)
                    .ToDictionary(o => o.Code, o => s.RevisionBeforeRetention[o.Index], StringComparer.Ordinal))
                .ToList(),
        };
        foreach (var runtime in engine.Objects)
        {
            state.Layouts.Add(new ExportedObjectLayout
            {
                ObjectModel = runtime.Code,
                NumberTerms = runtime.Terms.Where(t => EngineTerm.NumberSlotsOf(t.Kind) > 0).OrderBy(t => t.Slot).Select(t => t.StateKey).ToList(),
                SetTerms = runtime.Terms.Where(t => EngineTerm.NumberSlotsOf(t.Kind) == 0).OrderBy(t => t.Slot).Select(t => t.StateKey).ToList(),
            });
            if (runtime.Snapshots is { } snapshots)
            {
                state.SnapshotRows.Add(new ExportedSnapshotRows { ObjectModel = runtime.Code, Rows = snapshots.AllRows().ToList() });
            }
        }

        var texts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var series in engine.Series)
        {
            foreach (var bucket in series.Buckets)
            {
                state.Buckets.Add(ExportBucket(series.Granularity, bucket, engine.Objects, texts));
            }
        }

        state.Texts = texts.OrderBy(t => t.Value).Select(t => t.Key).ToList();

        return state;
    }

    /// <returns>
    /// The terms of event objects that the checkpoint's buckets hold no state for (as "object model: term"): their
    /// buckets restore without them while the positions say every row was applied.
    /// </returns>
    public static List<string> Restore(ClientKpiEngine engine, ClientKpiEngineState state)
    {
        foreach (var (objectModel, position) in state.Positions)
        {
            engine.RestorePosition(objectModel, position);
        }

        for (var g = 0; g < engine.Series.Length && g < state.RetentionStarts.Length; g++)
        {
            engine.Series[g].RetentionStart = state.RetentionStarts[g];
        }

        for (var g = 0; g < engine.Series.Length && g < state.CurrentStarts.Length; g++)
        {
            engine.Series[g].CurrentStart = state.CurrentStarts[g];
        }

        for (var g = 0; g < engine.Series.Length && g < state.RevisionsBeforeRetention.Count; g++)
        {
            foreach (var (objectModel, revision) in state.RevisionsBeforeRetention[g])
            {
                if (engine.FindObject(objectModel) is { } runtime)
                {
                    engine.Series[g].RevisionBeforeRetention[runtime.Index] = revision;
                }
            }
        }

        var maps = state.Layouts.Select(layout => LayoutMap.For(engine.FindObject(layout.ObjectModel), layout, state.Texts)).ToArray();
        // A snapshot object's terms are computed from its rows, which the checkpoint keeps whole; an event object's
        // exist only as bucket states.
        var missing = state.Layouts
            .Select(layout => (Layout: layout, Runtime: engine.FindObject(layout.ObjectModel)))
            .Where(l => l.Runtime is { Kind: ObjectKind.Event })
            .SelectMany(l => l.Runtime!.TermKeys.Except(l.Layout.NumberTerms.Concat(l.Layout.SetTerms), StringComparer.Ordinal)
                .Select(term => $"{l.Layout.ObjectModel}: {term}"))
            .ToList();
        foreach (var exported in state.Buckets)
        {
            var series = engine.Series[(int)exported.Granularity];
            var bucket = new Bucket(new BucketRange(exported.Start, exported.End), engine.Objects.Count) { FinalAnnounced = exported.FinalAnnounced };
            foreach (var part in exported.Parts)
            {
                if (maps[part.Layout] is { } map)
                {
                    bucket.Parts[map.Runtime.Index] = map.Import(part);
                }
            }

            series.Restore(bucket);
        }

        foreach (var snapshot in state.SnapshotRows)
        {
            if (engine.FindObject(snapshot.ObjectModel)?.Snapshots is { } store)
            {
                foreach (var row in snapshot.Rows)
                {
                    store.Insert(row);
                }
            }
        }

        return missing;
    }

    private static ExportedBucket ExportBucket(Granularity granularity, Bucket bucket, IReadOnlyList<ObjectRuntime> objects, Dictionary<string, int> texts)
    {
        var exported = new ExportedBucket { Granularity = granularity, Start = bucket.Range.Start, End = bucket.Range.End, FinalAnnounced = bucket.FinalAnnounced };
        for (var i = 0; i < bucket.Parts.Length; i++)
        {
            if (bucket.Parts[i] is not { } part)
            {
                continue;
            }

            var runtime = objects[i];
            var sets = runtime.Kind == ObjectKind.Event ? part.Sets : [];
            exported.Parts.Add(new ExportedPart
            {
                Layout = i,
                EventCount = part.EventCount,
                Revision = part.Revision,
                NewestTicks = part.NewestTicks,
                Numbers = runtime.Kind == ObjectKind.Event ? PackedNumbers.Pack(part.Numbers) : [],
                DistinctNumbers = sets.Select(s => s is HashSet<double> numbers ? PackedNumbers.Pack(numbers.ToArray()) : []).ToArray(),
                DistinctTexts = sets.Select(s => s is HashSet<string> values ? values.Select(v => IndexOf(texts, v)).ToArray() : []).ToArray(),
            });
        }

        return exported;
    }

    private static int IndexOf(Dictionary<string, int> texts, string value)
    {
        if (!texts.TryGetValue(value, out var index))
        {
            index = texts.Count;
            texts.Add(value, index);
        }

        return index;
    }

    /// <summary>Moves accumulators from a checkpoint's layout to the restored engine's layout, by term key.</summary>
    private sealed class LayoutMap
    {
        private readonly List<(int From, int To, int Width)> _numbers = [];
        private readonly List<(int From, int To, TermStateKind Kind)> _sets = [];

        private readonly List<string> _texts;

        private LayoutMap(ObjectRuntime runtime, List<string> texts)
        {
            Runtime = runtime;
            _texts = texts;
        }

        public ObjectRuntime Runtime { get; }

        public static LayoutMap? For(ObjectRuntime? runtime, ExportedObjectLayout layout, List<string> texts)
        {
            if (runtime is null)
            {
                return null;
            }

            var map = new LayoutMap(runtime, texts);
            var from = 0;
            foreach (var key in layout.NumberTerms)
            {
                var kind = Enum.Parse<TermStateKind>(key[..key.IndexOf('|', StringComparison.Ordinal)]);
                var width = EngineTerm.NumberSlotsOf(kind);
                if (runtime.FindTerm(key) is { } term)
                {
                    map._numbers.Add((from, term.Slot, width));
                }

                from += width;
            }

            for (var i = 0; i < layout.SetTerms.Count; i++)
            {
                if (runtime.FindTerm(layout.SetTerms[i]) is { } term)
                {
                    map._sets.Add((i, term.Slot, term.Kind));
                }
            }

            return map;
        }

        public BucketPart Import(ExportedPart exported)
        {
            var part = Runtime.Kind == ObjectKind.Event ? Runtime.NewPart() : new BucketPart(0, 0);
            part.EventCount = exported.EventCount;
            part.Revision = exported.Revision;
            part.NewestTicks = exported.NewestTicks;
            if (Runtime.Kind != ObjectKind.Event)
            {
                return part;
            }

            var numbers = PackedNumbers.Unpack(exported.Numbers);
            foreach (var (from, to, width) in _numbers)
            {
                Array.Copy(numbers, from, part.Numbers, to, width);
            }

            foreach (var (from, to, kind) in _sets)
            {
                if (kind == TermStateKind.DistinctTexts && exported.DistinctTexts[from].Length > 0)
                {
                    part.Sets[to] = new HashSet<string>(exported.DistinctTexts[from].Select(i => _texts[i]), StringComparer.Ordinal);
                }
                else if (kind == TermStateKind.DistinctNumbers && exported.DistinctNumbers[from].Length > 0)
                {
                    part.Sets[to] = new HashSet<double>(PackedNumbers.Unpack(exported.DistinctNumbers[from]));
                }
            }

            return part;
        }
    }
}
