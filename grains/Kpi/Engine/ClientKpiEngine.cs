using AnalyticsEngine.Catalog;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Ingest;
using AnalyticsEngine.Kpi.Formula;
using NodaTime;

namespace AnalyticsEngine.Kpi.Engine;

/// <summary>
/// Computes every KPI of one client incrementally as rows arrive, in minute, hour and day buckets of the client's
/// time zone, and answers snapshots and rolling / period-to-date windows from the same partial states.
/// </summary>
/// <remarks>
/// Not thread-safe: one grain owns one engine and calls it from its single-threaded scheduler.
/// Aggregates that normalise to the same state (same function family, object, expression and filter) are computed
/// once for all KPIs. Rows older than a granularity's retention still advance <see cref="Position"/> but cannot be
/// kept in evicted buckets; snapshot rows always enter the per-key history because they may still be a key's latest.
/// </remarks>
public sealed class ClientKpiEngine
{
    private static readonly Granularity[] Granularities = [Granularity.Minute, Granularity.Hour, Granularity.Day];

    private readonly string _clientId;
    private readonly KpiEngineOptions _options;
    private readonly long _latenessTicks;
    private readonly List<CompiledKpi> _kpis = [];
    private readonly Dictionary<string, CompiledKpi> _kpisByCode = new(StringComparer.Ordinal);
    private readonly List<ObjectRuntime> _objects = [];
    private readonly Dictionary<string, ObjectRuntime> _objectsByCode = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _positions = new(StringComparer.Ordinal);
    private readonly BucketSeries[] _series;
    private readonly List<KpiCompileError> _errors = [];
    private readonly TermAccumulator _scratch = new();
    private readonly AsOfRows?[] _asOfCache;
    private Truth[] _filterResults = [];

    /// <summary>Compiles all KPIs; those that fail are listed in <see cref="Errors"/> and left out.</summary>
    public ClientKpiEngine(
        string clientId,
        DateTimeZone zone,
        IReadOnlyList<KpiDefinition> kpis,
        IReadOnlyDictionary<string, ObjectModelDefinition> models,
        KpiEngineOptions options)
    {
        ArgumentNullException.ThrowIfNull(clientId);
        ArgumentNullException.ThrowIfNull(zone);
        ArgumentNullException.ThrowIfNull(kpis);
        ArgumentNullException.ThrowIfNull(models);
        ArgumentNullException.ThrowIfNull(options);
        _clientId = clientId;
        _options = options;
        _latenessTicks = options.AllowedLateness.Ticks;
        Zone = zone;
        _definitions = [.. kpis];
        foreach (var kpi in kpis)
        {
            Compile(kpi, models);
        }

        foreach (var runtime in _objects)
        {
            runtime.Seal();
            _filterResults = runtime.Filters.Length > _filterResults.Length ? new Truth[runtime.Filters.Length] : _filterResults;
        }

        _series = Granularities.Select(g => new BucketSeries(new BucketCalendar(zone, g), _objects.Count)).ToArray();
        _asOfCache = new AsOfRows?[_objects.Count];
    }

    /// <summary>KPIs that did not compile, with their formula errors.</summary>
    public IReadOnlyList<KpiCompileError> Errors => _errors;

    /// <summary>The object models any compiled KPI reads.</summary>
    public IReadOnlyCollection<string> ObjectModels => _objectsByCode.Keys;

    /// <summary>Codes of the compiled KPIs.</summary>
    public IReadOnlyCollection<string> KpiCodes => _kpisByCode.Keys;

    /// <summary>The client's time zone.</summary>
    public DateTimeZone Zone { get; }

    private readonly KpiDefinition[] _definitions;

    /// <summary>
    /// Whether an engine built for <paramref name="kpis"/> in <paramref name="zone"/> would compute what this one does:
    /// the same formulas under the same codes, in whatever order, and the same zone, by whichever of its names (names,
    /// units and descriptions do not count). If so, a configuration change need not rebuild it from the stored events.
    /// </summary>
    public bool ComputesTheSame(IReadOnlyList<KpiDefinition> kpis, DateTimeZone zone)
    {
        var formulas = _definitions.GroupBy(k => k.Code, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().Formula, StringComparer.Ordinal);
        return ZoneIds.Same(zone.Id, Zone.Id)
            && kpis.Select(k => k.Code).Distinct(StringComparer.Ordinal).Count() == formulas.Count
            && kpis.All(k => formulas.TryGetValue(k.Code, out var formula) && formula == k.Formula);
    }

    internal IReadOnlyList<ObjectRuntime> Objects => _objects;

    internal BucketSeries[] Series => _series;

    /// <summary>Distinct aggregate states computed (after sharing between KPIs).</summary>
    public int TermCount => _objects.Sum(o => o.Terms.Length);

    /// <summary>The highest sequence applied for an object model, 0 if none.</summary>
    public long Position(string objectModel) => _positions.GetValueOrDefault(objectModel);

    /// <summary>
    /// Moves the position of <paramref name="objectModel"/> past sequence numbers whose rows are no longer stored (a
    /// retention policy archived or deleted them; every other committed row is in its table), applying nothing.
    /// </summary>
    public void SkipRemoved(string objectModel, long through)
    {
        ArgumentNullException.ThrowIfNull(objectModel);
        if (through <= Position(objectModel))
        {
            return;
        }

        _positions[objectModel] = through;
        if (_objectsByCode.TryGetValue(objectModel, out var runtime))
        {
            runtime.Position = through;
        }
    }

    /// <summary>
    /// Applies rows of one object model in ascending sequence. Rows at or below <see cref="Position"/> are skipped
    /// (each row counts once); a row beyond <c>Position + 1</c> is a gap and throws
    /// <see cref="InvalidOperationException"/> before anything is applied, so the caller can catch up first.
    /// </summary>
    public void Apply(string objectModel, IReadOnlyList<EventRow> rows)
    {
        ArgumentNullException.ThrowIfNull(objectModel);
        ArgumentNullException.ThrowIfNull(rows);
        var position = Position(objectModel);
        _objectsByCode.TryGetValue(objectModel, out var runtime);
        var last = Validate(objectModel, rows, position, runtime);
        if (last == position)
        {
            return;
        }

        if (runtime is not null)
        {
            for (var i = 0; i < rows.Count; i++)
            {
                var row = rows[i];
                if (row.Sequence <= position)
                {
                    continue;
                }

                position = row.Sequence;
                if (runtime.Kind == ObjectKind.Event)
                {
                    ApplyEvent(runtime, row);
                }
                else
                {
                    ApplySnapshot(runtime, row);
                }
            }

            runtime.Position = last;
        }

        _positions[objectModel] = last;
    }

    /// <summary>
    /// Appends the value of every (KPI, granularity, bucket) changed since the last drain — by new rows, by a
    /// snapshot change carried into later buckets, by becoming final, or (KPIs reading snapshot objects) by the
    /// clock entering the bucket — for the KPIs <paramref name="includeKpi"/>
    /// accepts, then clears all change marks (changes of KPIs nobody watches are not computed).
    /// </summary>
    /// <returns>How many values were appended.</returns>
    public int DrainChanges(Func<string, bool> includeKpi, List<KpiValue> into, Instant now)
    {
        ArgumentNullException.ThrowIfNull(includeKpi);
        ArgumentNullException.ThrowIfNull(into);
        var nowTicks = now.ToUnixTimeTicks();
        var included = _kpis.Select(k => includeKpi(k.Code)).ToArray();
        var before = into.Count;
        var emitted = new HashSet<(int Kpi, long Start)>();
        foreach (var series in _series)
        {
            emitted.Clear();
            PublishNewCurrentBucket(series, nowTicks);
            foreach (var bucket in series.Dirty)
            {
                for (var k = 0; k < _kpis.Count; k++)
                {
                    if (included[k] && (_kpis[k].ObjectMask & bucket.DirtyObjects) != 0 && emitted.Add((k, bucket.Range.Start)))
                    {
                        into.Add(Compose(_kpis[k], series, bucket.Range.Start, bucket.Range.End, nowTicks));
                    }
                }

                // Values of a bucket already past its lateness went out final: announcing finality again later would
                // push the same value twice. Only when every object with rows here was drained, so no KPI misses it.
                if (!bucket.FinalAnnounced && bucket.Range.End + _latenessTicks <= nowTicks && (ObjectsPresent(bucket) & ~bucket.DirtyObjects) == 0)
                {
                    bucket.FinalAnnounced = true;
                }
            }

            DrainCarried(series, included, emitted, into, nowTicks);
            series.ClearDirty();
        }

        return into.Count - before;
    }

    /// <summary>
    /// The bucket holding <paramref name="now"/> and the <paramref name="recentBuckets"/> buckets up to and including
    /// it, oldest first; empty buckets are included with their formula value (e.g. count = 0, 0/0 = no value).
    /// </summary>
    public KpiSnapshot Snapshot(string kpiCode, Granularity granularity, int recentBuckets, Instant now)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(recentBuckets);
        var kpi = Kpi(kpiCode);
        var series = SeriesFor(granularity);
        var nowTicks = now.ToUnixTimeTicks();
        var range = series.Calendar.Resolve(nowTicks);
        var current = Compose(kpi, series, range.Start, range.End, nowTicks);
        var recent = new KpiValue[recentBuckets];
        for (var i = recentBuckets - 1; i >= 0; i--)
        {
            recent[i] = i == recentBuckets - 1 ? current : Compose(kpi, series, range.Start, range.End, nowTicks);
            range = series.Calendar.Previous(range);
        }

        return new KpiSnapshot(_clientId, kpiCode, granularity, current, recent) { Definition = kpi.DefinitionVersion };
    }

    /// <summary>
    /// Brings a reconnecting client's copy of one series up to date: of the latest <paramref name="recentBuckets"/>
    /// buckets (as <see cref="Snapshot"/> covers them) and of every bucket the client <paramref name="held"/>, only
    /// the values whose revision or finality differ from the client's, or that it lacks. Held buckets older than
    /// the granularity's retention are answered as expired, since their state is gone.
    /// </summary>
    /// <exception cref="FormatException">A held bucket start is not the start of a bucket in the client's time zone.</exception>
    public KpiResume Resume(string kpiCode, Granularity granularity, int recentBuckets, IReadOnlyList<KpiBucketVersion> held, Instant now)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(recentBuckets);
        ArgumentNullException.ThrowIfNull(held);
        var kpi = Kpi(kpiCode);
        var series = SeriesFor(granularity);
        var calendar = series.Calendar;
        var nowTicks = now.ToUnixTimeTicks();
        var heldByStart = new Dictionary<long, KpiBucketVersion>(held.Count);
        foreach (var version in held)
        {
            var start = TimeTicks.Of(version.BucketStart);
            if (calendar.Resolve(start).Start != start)
            {
                throw new FormatException(
                    $"bucketStart {version.BucketStart:O} is not the start of any {granularity.ToString().ToLowerInvariant()} bucket in the client's time zone ({Zone.Id})");
            }

            heldByStart[start] = version;
        }

        var changed = new List<KpiValue>();
        var current = calendar.Resolve(nowTicks);
        var range = current;
        var windowStart = current.Start;
        for (var i = 0; i < recentBuckets; i++)
        {
            AddIfDiffers(range);
            windowStart = range.Start;
            range = calendar.Previous(range);
        }

        var retentionStart = Math.Max(series.RetentionStart, calendar.StartOfLast(nowTicks, Math.Max(1, _options.Kept(granularity))));
        var expired = new List<DateTimeOffset>();
        foreach (var start in heldByStart.Keys.Order())
        {
            if (start >= windowStart && start <= current.Start)
            {
                continue; // answered with the window
            }

            if (start < retentionStart)
            {
                expired.Add(TimeTicks.ToDateTimeOffset(start));
            }
            else
            {
                AddIfDiffers(calendar.Resolve(start));
            }
        }

        changed.Sort((a, b) => a.BucketStart.CompareTo(b.BucketStart));
        return new KpiResume(_clientId, kpiCode, granularity, TimeTicks.ToDateTimeOffset(current.Start), changed, expired) { Definition = kpi.DefinitionVersion };

        void AddIfDiffers(BucketRange bucket)
        {
            var value = Compose(kpi, series, bucket.Start, bucket.End, nowTicks);
            if (!heldByStart.TryGetValue(bucket.Start, out var version) || !version.Matches(value))
            {
                changed.Add(value);
            }
        }
    }

    /// <summary>
    /// A rolling or period-to-date window ending with the bucket holding <paramref name="now"/>, composed by merging
    /// the buckets' partial states. Snapshot objects contribute their state as of the window's end.
    /// </summary>
    public KpiValue Window(string kpiCode, KpiWindow window, Instant now)
    {
        var kpi = Kpi(kpiCode);
        var series = SeriesFor(window.Granularity);
        var calendar = series.Calendar;
        var nowTicks = now.ToUnixTimeTicks();
        var current = calendar.Resolve(nowTicks);
        var today = calendar.DateOf(nowTicks);
        var start = window.Kind switch
        {
            KpiWindowKind.LastMinutes or KpiWindowKind.LastHours or KpiWindowKind.LastDays => calendar.StartOfLast(nowTicks, window.Count),
            KpiWindowKind.DayToDate => current.Start,
            KpiWindowKind.WeekToDate => calendar.StartOfDay(today.With(DateAdjusters.PreviousOrSame(IsoDayOfWeek.Monday))),
            KpiWindowKind.MonthToDate => calendar.StartOfDay(today.With(DateAdjusters.StartOfMonth)),
            KpiWindowKind.QuarterToDate => calendar.StartOfDay(new LocalDate(today.Year, (((today.Month - 1) / 3) * 3) + 1, 1)),
            KpiWindowKind.YearToDate => calendar.StartOfDay(new LocalDate(today.Year, 1, 1)),
            _ => throw new ArgumentOutOfRangeException(nameof(window), window, "unknown window kind"),
        };
        return Compose(kpi, series, start, current.End, nowTicks);
    }

    /// <summary>
    /// Moves the engine's clock: buckets whose end plus the allowed lateness has passed become final (and are
    /// published once more with IsFinal set), and buckets beyond each granularity's retention are evicted.
    /// </summary>
    public void AdvanceTime(Instant now)
    {
        var nowTicks = now.ToUnixTimeTicks();
        var snapshotCutoff = long.MaxValue;
        foreach (var series in _series)
        {
            var retentionStart = series.Calendar.StartOfLast(nowTicks, Math.Max(1, _options.Kept(series.Granularity)));
            series.RetentionStart = Math.Max(series.RetentionStart, retentionStart);
            series.Evict();
            snapshotCutoff = Math.Min(snapshotCutoff, series.RetentionStart);
            foreach (var bucket in series.Buckets)
            {
                if (bucket.Range.End + _latenessTicks > nowTicks)
                {
                    break;
                }

                if (!bucket.FinalAnnounced)
                {
                    bucket.FinalAnnounced = true;
                    series.MarkDirty(bucket, ObjectsPresent(bucket));
                }
            }
        }

        foreach (var runtime in _objects)
        {
            if (runtime.Snapshots?.Compact(snapshotCutoff) == true)
            {
                _asOfCache[runtime.Index] = null;
            }
        }
    }

    /// <summary>
    /// A snapshot KPI has a value in every bucket (the state carries forward), so the buckets the clock entered since
    /// the last drain are published once, even without rows; event KPIs' empty buckets are not pushed.
    /// </summary>
    private void PublishNewCurrentBucket(BucketSeries series, long nowTicks)
    {
        var current = series.Calendar.Resolve(nowTicks);
        if (current.Start <= series.CurrentStart)
        {
            return;
        }

        var from = series.CurrentStart == long.MinValue ? current.Start : series.Calendar.Resolve(series.CurrentStart).End;
        series.CurrentStart = current.Start;
        foreach (var runtime in _objects)
        {
            if (runtime.Snapshots is { KeyCount: > 0 })
            {
                var g = (int)series.Granularity;
                runtime.CarryDirtyFrom[g] = Math.Min(runtime.CarryDirtyFrom[g], from);
            }
        }
    }

    /// <summary>A checkpoint of positions and all partial states; see <see cref="Restore"/>.</summary>
    public ClientKpiEngineState Export() => EngineCheckpoint.Export(this);

    /// <summary>
    /// Rebuilds an engine from a checkpoint. Terms are matched by their normalised key, so KPIs that still exist
    /// keep their state; a term of an event object the checkpoint does not know starts empty and is listed in
    /// <see cref="TermsNotInCheckpoint"/> (a caller that needs it whole replays the history instead).
    /// </summary>
    public static ClientKpiEngine Restore(
        ClientKpiEngineState state,
        string clientId,
        DateTimeZone zone,
        IReadOnlyList<KpiDefinition> kpis,
        IReadOnlyDictionary<string, ObjectModelDefinition> models,
        KpiEngineOptions options)
    {
        ArgumentNullException.ThrowIfNull(state);
        var engine = new ClientKpiEngine(clientId, zone, kpis, models, options);
        engine.TermsNotInCheckpoint = EngineCheckpoint.Restore(engine, state);
        return engine;
    }

    /// <summary>After <see cref="Restore"/>: the event objects' terms the checkpoint held no state for, as "object model: term".</summary>
    public IReadOnlyList<string> TermsNotInCheckpoint { get; private set; } = [];

    internal void RestorePosition(string objectModel, long position)
    {
        _positions[objectModel] = position;
        if (_objectsByCode.TryGetValue(objectModel, out var runtime))
        {
            runtime.Position = position;
        }
    }

    internal IReadOnlyDictionary<string, long> Positions => _positions;

    internal ObjectRuntime? FindObject(string code) => _objectsByCode.GetValueOrDefault(code);

    private void Compile(KpiDefinition kpi, IReadOnlyDictionary<string, ObjectModelDefinition> models)
    {
        if (_kpisByCode.ContainsKey(kpi.Code))
        {
            _errors.Add(new KpiCompileError(kpi.Code, [FormulaError.At(kpi.Formula, default, $"KPI code '{kpi.Code}' is defined twice; the first definition is used")]));
            return;
        }

        var result = KpiFormula.Compile(kpi.Formula, models);
        if (result.Formula is not { } formula)
        {
            _errors.Add(new KpiCompileError(kpi.Code, result.Errors));
            return;
        }

        if (_objects.Count + formula.ObjectModels.Count(m => !_objectsByCode.ContainsKey(m)) > 64)
        {
            _errors.Add(new KpiCompileError(kpi.Code, [FormulaError.At(kpi.Formula, default, "a client's KPIs can read at most 64 object models")]));
            return;
        }

        var terms = new EngineTerm[formula.Aggregates.Count];
        for (var i = 0; i < terms.Length; i++)
        {
            var aggregate = formula.Aggregates[i];
            terms[i] = ObjectFor(models[aggregate.ObjectModel]).Add(aggregate);
        }

        var objects = formula.ObjectModels.Select(m => _objectsByCode[m]).ToArray();
        var compiled = new CompiledKpi(kpi, ZoneIds.Canonical(Zone.Id), formula, terms, objects);
        _kpis.Add(compiled);
        _kpisByCode.Add(kpi.Code, compiled);
    }

    private ObjectRuntime ObjectFor(ObjectModelDefinition model)
    {
        if (!_objectsByCode.TryGetValue(model.Code, out var runtime))
        {
            runtime = new ObjectRuntime(model, _objects.Count);
            _objects.Add(runtime);
            _objectsByCode.Add(model.Code, runtime);
        }

        return runtime;
    }

    private static long Validate(string objectModel, IReadOnlyList<EventRow> rows, long position, ObjectRuntime? runtime)
    {
        var expected = position + 1;
        for (var i = 0; i < rows.Count; i++)
        {
            var row = rows[i] ?? throw new ArgumentException("rows must not contain null", nameof(rows));
            if (row.Sequence < expected)
            {
                continue;
            }

            if (row.Sequence != expected)
            {
                throw new InvalidOperationException(
                    $"gap in '{objectModel}': expected sequence {expected} but got {row.Sequence}; catch up from the database first");
            }

            if (runtime is not null && (row.Numbers.Length < runtime.Layout.NumberCount || row.Texts.Length < runtime.Layout.TextCount))
            {
                throw new ArgumentException(
                    $"row {row.Sequence} of '{objectModel}' has {row.Numbers.Length} numbers and {row.Texts.Length} texts; the layout needs {runtime.Layout.NumberCount} and {runtime.Layout.TextCount}",
                    nameof(rows));
            }

            expected++;
        }

        return expected - 1;
    }

    private void ApplyEvent(ObjectRuntime runtime, EventRow row)
    {
        var ticks = TimeTicks.Of(row.EventTime);
        var minute = Touch(_series[0], runtime, ticks);
        var hour = Touch(_series[1], runtime, ticks);
        var day = Touch(_series[2], runtime, ticks);
        var filters = runtime.Filters;
        var results = _filterResults;
        for (var f = 0; f < filters.Length; f++)
        {
            results[f] = filters[f].Test(row);
        }

        var terms = runtime.Terms;
        for (var t = 0; t < terms.Length; t++)
        {
            var term = terms[t];
            if (term.FilterIndex >= 0 && results[term.FilterIndex] != Truth.True)
            {
                continue;
            }

            switch (term.Kind)
            {
                case TermStateKind.SumCount:
                {
                    var value = term.Number!.Evaluate(row);
                    if (!double.IsNaN(value))
                    {
                        PartState.AddSum(minute, term.Slot, value);
                        PartState.AddSum(hour, term.Slot, value);
                        PartState.AddSum(day, term.Slot, value);
                    }

                    break;
                }

                case TermStateKind.Min:
                {
                    var value = term.Number!.Evaluate(row);
                    PartState.AddMin(minute, term.Slot, value);
                    PartState.AddMin(hour, term.Slot, value);
                    PartState.AddMin(day, term.Slot, value);
                    break;
                }

                case TermStateKind.Max:
                {
                    var value = term.Number!.Evaluate(row);
                    PartState.AddMax(minute, term.Slot, value);
                    PartState.AddMax(hour, term.Slot, value);
                    PartState.AddMax(day, term.Slot, value);
                    break;
                }

                case TermStateKind.DistinctNumbers:
                {
                    var value = term.Number!.Evaluate(row);
                    if (!double.IsNaN(value))
                    {
                        PartState.AddDistinct(minute, term.Slot, value);
                        PartState.AddDistinct(hour, term.Slot, value);
                        PartState.AddDistinct(day, term.Slot, value);
                    }

                    break;
                }

                default:
                {
                    if (term.Text!.Evaluate(row) is { } text)
                    {
                        PartState.AddDistinct(minute, term.Slot, text);
                        PartState.AddDistinct(hour, term.Slot, text);
                        PartState.AddDistinct(day, term.Slot, text);
                    }

                    break;
                }
            }
        }
    }

    private void ApplySnapshot(ObjectRuntime runtime, EventRow row)
    {
        var ticks = TimeTicks.Of(row.EventTime);
        runtime.Snapshots!.Insert(row);
        _asOfCache[runtime.Index] = null;
        for (var g = 0; g < _series.Length; g++)
        {
            var series = _series[g];
            var bucket = series.GetOrCreate(ticks);
            long changedFrom;
            int later;
            if (bucket is null)
            {
                // Older than retention, yet possibly the key's latest row: every retained bucket may change, the
                // row-less ones before this object's first retained part too, which carry the revision from before.
                changedFrom = series.RetentionStart;
                later = 0;
                series.RevisionBeforeRetention[runtime.Index]++;
            }
            else
            {
                var index = series.IndexAtOrAfter(bucket.Range.Start);
                if (bucket.Parts[runtime.Index] is null)
                {
                    // Continue the revision this object had in the carried bucket, so revisions never go back.
                    bucket.Parts[runtime.Index] = new BucketPart(0, 0) { Revision = CarriedRevision(series, runtime, index) };
                }

                Touch(series, runtime, ticks);
                changedFrom = bucket.Range.Start;
                later = index + 1;
            }

            // The state as of every later bucket may change too: bump and mark those that exist...
            var buckets = series.Buckets;
            for (var i = later; i < buckets.Count; i++)
            {
                var laterBucket = buckets[i];
                if (laterBucket.Parts[runtime.Index] is { } part)
                {
                    part.Revision++;
                }

                series.MarkDirty(laterBucket, runtime.Bit);
            }

            // ...and remember where the carried (row-less) buckets start changing, for the next drain.
            runtime.CarryDirtyFrom[g] = Math.Min(runtime.CarryDirtyFrom[g], changedFrom);
        }
    }

    /// <summary>Counts the row in its bucket's part for this object and marks the bucket changed.</summary>
    private BucketPart? Touch(BucketSeries series, ObjectRuntime runtime, long ticks)
    {
        var bucket = series.GetOrCreate(ticks);
        if (bucket is null)
        {
            return null;
        }

        var part = bucket.Parts[runtime.Index] ??= runtime.NewPart();
        part.EventCount++;
        if (ticks > part.NewestTicks)
        {
            part.NewestTicks = ticks;
        }

        // One step per row, not per batch: replaying the same rows in other batches (after a crash, from the
        // database) then gives the same revisions, so a client never sees a bucket's revision go back.
        part.Revision++;

        series.MarkDirty(bucket, runtime.Bit);
        return part;
    }

    private static long CarriedRevision(BucketSeries series, ObjectRuntime runtime, int beforeIndex)
    {
        var buckets = series.Buckets;
        for (var i = Math.Min(beforeIndex, buckets.Count) - 1; i >= 0; i--)
        {
            if (buckets[i].Parts[runtime.Index] is { } part)
            {
                return part.Revision;
            }
        }

        return series.RevisionBeforeRetention[runtime.Index];
    }

    private static ulong ObjectsPresent(Bucket bucket)
    {
        var mask = 0UL;
        for (var i = 0; i < bucket.Parts.Length; i++)
        {
            if (bucket.Parts[i] is not null)
            {
                mask |= 1UL << i;
            }
        }

        return mask;
    }

    private void DrainCarried(BucketSeries series, bool[] included, HashSet<(int Kpi, long Start)> emitted, List<KpiValue> into, long nowTicks)
    {
        var g = (int)series.Granularity;
        foreach (var runtime in _objects)
        {
            var from = runtime.CarryDirtyFrom[g];
            if (from == long.MaxValue)
            {
                continue;
            }

            runtime.CarryDirtyFrom[g] = long.MaxValue;
            var calendar = series.Calendar;
            // Up to the current bucket, not the newest that holds rows: a bucket after now that holds rows is dirty and
            // published anyway, and one row far ahead (a mistyped year) would otherwise move the walk's window there,
            // thousands of future buckets, and leave the current one out.
            var last = calendar.Resolve(nowTicks);

            // Never walk further back than the buckets the granularity keeps.
            from = Math.Max(from, calendar.StartOfLast(last.Start, Math.Max(1, _options.Kept(series.Granularity))));
            for (var range = calendar.Resolve(from); range.Start <= last.Start; range = calendar.Resolve(range.End))
            {
                for (var k = 0; k < _kpis.Count; k++)
                {
                    if (included[k] && (_kpis[k].ObjectMask & runtime.Bit) != 0 && emitted.Add((k, range.Start)))
                    {
                        into.Add(Compose(_kpis[k], series, range.Start, range.End, nowTicks));
                    }
                }
            }
        }
    }

    /// <summary>The value of a KPI over the buckets of one series starting in [start, end).</summary>
    private KpiValue Compose(CompiledKpi kpi, BucketSeries series, long start, long end, long nowTicks)
    {
        var buckets = series.Buckets;
        var first = series.IndexAtOrAfter(start);
        var stop = first;
        while (stop < buckets.Count && buckets[stop].Range.Start < end)
        {
            stop++;
        }

        Span<double> aggregates = kpi.Terms.Length <= 32 ? stackalloc double[kpi.Terms.Length] : new double[kpi.Terms.Length];
        var components = new KpiComponent[kpi.Terms.Length];
        for (var a = 0; a < kpi.Terms.Length; a++)
        {
            var term = kpi.Terms[a];
            var runtime = _objects[term.ObjectIndex];
            _scratch.Reset();
            if (runtime.Kind == ObjectKind.Event)
            {
                for (var i = first; i < stop; i++)
                {
                    if (buckets[i].Parts[runtime.Index] is { } part)
                    {
                        _scratch.Merge(term, part);
                    }
                }
            }
            else
            {
                foreach (var row in AsOf(runtime, end).Rows)
                {
                    _scratch.Fold(term, row);
                }
            }

            aggregates[a] = _scratch.Result(kpi.Formula.Aggregates[a].Function);
            components[a] = KpiComponent.Of(kpi.Formula.Aggregates[a].Name, aggregates[a]);
        }

        var (value, reason) = kpi.Formula.Evaluate(aggregates);
        long revision = 0, eventCount = 0, newest = long.MinValue;
        foreach (var runtime in kpi.Objects)
        {
            for (var i = first; i < stop; i++)
            {
                if (buckets[i].Parts[runtime.Index] is { } part)
                {
                    eventCount += part.EventCount;
                    newest = Math.Max(newest, part.NewestTicks);
                    if (runtime.Kind == ObjectKind.Event)
                    {
                        revision += part.Revision;
                    }
                }
            }

            if (runtime.Kind == ObjectKind.Snapshot)
            {
                revision += CarriedRevision(series, runtime, stop);
                newest = Math.Max(newest, AsOf(runtime, end).NewestTicks);
            }
        }

        return new KpiValue(
            _clientId,
            kpi.Code,
            series.Granularity,
            TimeTicks.ToDateTimeOffset(start),
            TimeTicks.ToDateTimeOffset(end),
            value,
            reason,
            components,
            revision,
            end + _latenessTicks <= nowTicks,
            newest == long.MinValue ? null : TimeTicks.ToDateTimeOffset(newest),
            kpi.Objects.Select(o => new SourcePosition(o.Code, o.Position)).ToArray(),
            eventCount);
    }

    /// <summary>
    /// Each key's latest row of a snapshot object before <paramref name="end"/>. The last collection per object is
    /// kept and reused while no row lies between its instant and the one asked for, so publishing or reading a run of
    /// buckets scans the keys once per change rather than once per bucket. Applying rows drops it.
    /// </summary>
    private AsOfRows AsOf(ObjectRuntime runtime, long end)
    {
        var cached = _asOfCache[runtime.Index];
        var store = runtime.Snapshots!;
        if (cached is not null && (cached.End == end || !store.AnyRowBetween(Math.Min(cached.End, end), Math.Max(cached.End, end))))
        {
            return cached;
        }

        var rows = new List<EventRow>();
        var newest = store.CollectAsOf(end, rows);
        cached = new AsOfRows(end, rows, newest);
        _asOfCache[runtime.Index] = cached;
        return cached;
    }

    private sealed record AsOfRows(long End, List<EventRow> Rows, long NewestTicks);

    private CompiledKpi Kpi(string kpiCode) =>
        _kpisByCode.TryGetValue(kpiCode, out var kpi) ? kpi : throw new KeyNotFoundException($"client '{_clientId}' has no compiled KPI '{kpiCode}'");

    private BucketSeries SeriesFor(Granularity granularity) => granularity switch
    {
        Granularity.Minute => _series[0],
        Granularity.Hour => _series[1],
        Granularity.Day => _series[2],
        _ => throw new ArgumentOutOfRangeException(nameof(granularity), granularity, "the engine keeps minute, hour and day buckets; compose weeks and months with Window"),
    };
}
