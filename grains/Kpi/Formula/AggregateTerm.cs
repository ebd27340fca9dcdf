namespace AnalyticsEngine.Kpi.Formula;

/// <summary>How an aggregate's rows are folded; aggregates with the same kind, object, argument and filter share one state.</summary>
internal enum TermStateKind
{
    /// <summary>Sum and count of non-null values: answers sum, avg and count.</summary>
    SumCount,
    Min,
    Max,
    DistinctNumbers,
    DistinctTexts,
}

/// <summary>
/// One aggregate of a formula, e.g. <c>count(orders) filter (where orders.on_time)</c>: the unit the engine keeps
/// partial state for. Its <see cref="Name"/> labels the matching <see cref="KpiComponent"/> of a KPI value.
/// </summary>
public sealed class AggregateTerm
{
    internal AggregateTerm(AggregateExpression syntax, string objectModel, string name, TermStateKind stateKind, string stateKey)
    {
        Syntax = syntax;
        ObjectModel = objectModel;
        Name = name;
        StateKind = stateKind;
        StateKey = stateKey;
    }

    /// <summary>The aggregate as parsed.</summary>
    public AggregateExpression Syntax { get; }

    /// <summary>The aggregate function.</summary>
    public AggregateFunction Function => Syntax.Function;

    /// <summary>The one object model the aggregate reads.</summary>
    public string ObjectModel { get; }

    /// <summary>The aggregate's source text with whitespace tidied, e.g. <c>count(orders) filter (where orders.on_time)</c>.</summary>
    public string Name { get; }

    /// <summary>
    /// Identifies the partial state this aggregate reads, after normalisation: <c>sum(x)</c>, <c>avg(x)</c> and
    /// <c>count(x)</c> with the same filter share one sum-and-count state.
    /// </summary>
    public string StateKey { get; }

    internal TermStateKind StateKind { get; }

    /// <summary>The filter in normal form (empty when none): terms with the same filter test it once per row.</summary>
    internal string FilterKey { get; init; } = string.Empty;

    /// <summary>The value folded per row (count(object) folds the constant 1); null for distinct texts.</summary>
    internal RowNumber? NumberArgument { get; set; }

    internal RowText? TextArgument { get; set; }

    internal RowPredicate? Filter { get; set; }
}
