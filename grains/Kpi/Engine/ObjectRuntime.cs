using AnalyticsEngine.Catalog;
using AnalyticsEngine.Kpi.Formula;

namespace AnalyticsEngine.Kpi.Engine;

/// <summary>An aggregate state shared by every KPI of the client whose aggregate normalises to the same key.</summary>
internal sealed class EngineTerm(AggregateTerm prototype, int objectIndex, int slot, int filterIndex)
{
    public string StateKey { get; } = prototype.StateKey;

    public TermStateKind Kind { get; } = prototype.StateKind;

    public int ObjectIndex { get; } = objectIndex;

    /// <summary>First accumulator in <see cref="BucketPart.Numbers"/>, or the set index for distinct terms.</summary>
    public int Slot { get; } = slot;

    /// <summary>Index into <see cref="ObjectRuntime.Filters"/>, or -1 when unfiltered.</summary>
    public int FilterIndex { get; } = filterIndex;

    public RowNumber? Number { get; } = prototype.NumberArgument;

    public RowText? Text { get; } = prototype.TextArgument;

    public RowPredicate? Filter { get; } = prototype.Filter;

    public static int NumberSlotsOf(TermStateKind kind) => kind switch
    {
        TermStateKind.SumCount => 2,
        TermStateKind.Min or TermStateKind.Max => 1,
        _ => 0,
    };
}

/// <summary>
/// Everything the engine keeps per object model read by some KPI: its layout, its deduplicated terms and filters,
/// how far it has been applied, and (snapshot objects) the rows per key.
/// </summary>
internal sealed class ObjectRuntime
{
    private readonly List<EngineTerm> _terms = [];
    private readonly Dictionary<string, EngineTerm> _termsByKey = new(StringComparer.Ordinal);
    private readonly List<RowPredicate> _filters = [];
    private readonly Dictionary<string, int> _filterIndex = new(StringComparer.Ordinal);

    public ObjectRuntime(ObjectModelDefinition model, int index)
    {
        Code = model.Code;
        Index = index;
        Bit = 1UL << index;
        Kind = model.Kind;
        Layout = new ObjectModelLayout(model);
        Snapshots = model.Kind == ObjectKind.Snapshot ? new SnapshotStore(Layout) : null;
    }

    public string Code { get; }

    public int Index { get; }

    public ulong Bit { get; }

    public ObjectKind Kind { get; }

    public ObjectModelLayout Layout { get; }

    public SnapshotStore? Snapshots { get; }

    public long Position { get; set; }

    /// <summary>Terms as an array for the hot loop (filled by <see cref="Seal"/>).</summary>
    public EngineTerm[] Terms { get; private set; } = [];

    public RowPredicate[] Filters { get; private set; } = [];

    public int NumberSlots { get; private set; }

    public int SetSlots { get; private set; }

    /// <summary>Per granularity: the earliest bucket start whose snapshot "as of" value changed since the last drain.</summary>
    public long[] CarryDirtyFrom { get; } = [long.MaxValue, long.MaxValue, long.MaxValue];

    public EngineTerm Add(AggregateTerm term)
    {
        if (_termsByKey.TryGetValue(term.StateKey, out var existing))
        {
            return existing;
        }

        var filterIndex = -1;
        if (term.Filter is not null && !_filterIndex.TryGetValue(term.FilterKey, out filterIndex))
        {
            filterIndex = _filters.Count;
            _filterIndex[term.FilterKey] = filterIndex;
            _filters.Add(term.Filter);
        }

        int slot;
        if (term.StateKind is TermStateKind.DistinctNumbers or TermStateKind.DistinctTexts)
        {
            slot = SetSlots++;
        }
        else
        {
            slot = NumberSlots;
            NumberSlots += EngineTerm.NumberSlotsOf(term.StateKind);
        }

        var created = new EngineTerm(term, Index, slot, filterIndex);
        _terms.Add(created);
        _termsByKey[term.StateKey] = created;
        return created;
    }

    public void Seal()
    {
        Terms = [.. _terms];
        Filters = [.. _filters];
    }

    public EngineTerm? FindTerm(string stateKey) => _termsByKey.GetValueOrDefault(stateKey);

    /// <summary>The state keys of this object's terms.</summary>
    public IEnumerable<string> TermKeys => _termsByKey.Keys;

    public BucketPart NewPart()
    {
        var part = new BucketPart(NumberSlots, SetSlots);
        foreach (var term in Terms)
        {
            if (term.Kind is TermStateKind.Min or TermStateKind.Max)
            {
                part.Numbers[term.Slot] = double.NaN; // no value yet
            }
        }

        return part;
    }
}
