using AnalyticsEngine.Catalog;
using AnalyticsEngine.Kpi.Engine;

namespace AnalyticsEngine.Kpi.Formula;

/// <summary>A formula that parsed and validated: its syntax tree, its aggregate terms and how to combine them.</summary>
public sealed class CompiledFormula
{
    private readonly ValueNode _root;

    internal CompiledFormula(string source, FormulaNode syntax, IReadOnlyList<AggregateTerm> aggregates, ValueNode root)
    {
        Source = source;
        Syntax = syntax;
        Aggregates = aggregates;
        _root = root;
        ObjectModels = aggregates.Select(a => a.ObjectModel).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
    }

    /// <summary>The formula text as written.</summary>
    public string Source { get; }

    /// <summary>The root of the syntax tree (for other back ends, e.g. SQL).</summary>
    public FormulaNode Syntax { get; }

    /// <summary>The distinct aggregates of the formula (by name), in order of first appearance.</summary>
    public IReadOnlyList<AggregateTerm> Aggregates { get; }

    /// <summary>The object models the formula reads, sorted.</summary>
    public IReadOnlyList<string> ObjectModels { get; }

    /// <summary>
    /// Combines aggregate results (one per <see cref="Aggregates"/> entry; NaN for "no value") into the formula's
    /// value, or null with the reason there is none (division by zero, an aggregate over no rows, ...).
    /// </summary>
    public (double? Value, string? NoValueReason) Evaluate(ReadOnlySpan<double> aggregateValues)
    {
        if (aggregateValues.Length != Aggregates.Count)
        {
            throw new ArgumentException($"expected {Aggregates.Count} aggregate values, got {aggregateValues.Length}", nameof(aggregateValues));
        }

        var outcome = _root.Evaluate(aggregateValues);
        return outcome.HasValue ? (outcome.Value, null) : (null, outcome.Reason);
    }
}

/// <summary>The outcome of <see cref="KpiFormula.Compile"/>: every error found, or the compiled formula.</summary>
public sealed record FormulaCompileResult(IReadOnlyList<FormulaError> Errors, CompiledFormula? Formula)
{
    /// <summary>True when the formula compiled without errors.</summary>
    public bool Succeeded => Formula is not null;
}

/// <summary>The entry point of the KPI formula language: parse, validate against object models, compile.</summary>
public static class KpiFormula
{
    /// <summary>Formulas longer than this are refused before parsing.</summary>
    public const int MaxLength = 4000;

    /// <summary>Deepest nesting of parentheses, operators and calls accepted.</summary>
    public const int MaxDepth = Parser.MaxDepth;

    /// <summary>
    /// Parses and validates <paramref name="formula"/> against <paramref name="models"/> (keyed by object model code)
    /// and compiles it. All errors are reported at once, sorted by position.
    /// </summary>
    public static FormulaCompileResult Compile(string formula, IReadOnlyDictionary<string, ObjectModelDefinition> models)
    {
        ArgumentNullException.ThrowIfNull(formula);
        ArgumentNullException.ThrowIfNull(models);
        var errors = new List<FormulaError>();
        if (string.IsNullOrWhiteSpace(formula))
        {
            errors.Add(FormulaError.At(formula, new SourceSpan(0, 0), "the formula is empty; write an expression such as count(orders)"));
            return new FormulaCompileResult(errors, null);
        }

        if (formula.Length > MaxLength)
        {
            errors.Add(FormulaError.At(formula, new SourceSpan(MaxLength, 1), $"the formula is {formula.Length} characters long; at most {MaxLength} are allowed"));
            return new FormulaCompileResult(errors, null);
        }

        var syntax = new Parser(formula, errors).ParseFormula();
        if (syntax is null)
        {
            return new FormulaCompileResult(Sorted(errors), null);
        }

        var binder = new Binder(formula, models, errors);
        binder.BindFormula(syntax);
        if (errors.Count > 0)
        {
            return new FormulaCompileResult(Sorted(errors), null);
        }

        return new FormulaCompileResult([], new FormulaBuilder(formula, models, binder).Build(syntax));
    }

    private static List<FormulaError> Sorted(List<FormulaError> errors) =>
        errors.OrderBy(e => e.Offset).ThenBy(e => e.Message, StringComparer.Ordinal).ToList();

    /// <summary>Builds terms and the KPI-level evaluator from a tree the binder accepted.</summary>
    private sealed class FormulaBuilder(string source, IReadOnlyDictionary<string, ObjectModelDefinition> models, Binder binder)
    {
        private readonly List<AggregateTerm> _terms = [];
        private readonly Dictionary<string, ObjectModelLayout> _layouts = new(StringComparer.Ordinal);

        public CompiledFormula Build(FormulaNode syntax) => new(source, syntax, _terms, Value(syntax));

        private ValueNode Value(FormulaNode node) => node switch
        {
            NumberLiteral number => new ValueConstant(number.Value),
            UnaryExpression { Operator: UnaryOperator.Negate } negate => new ValueNegate(Value(negate.Operand)),
            BinaryExpression binary => new ValueArithmetic(binary.Operator, Value(binary.Left), Value(binary.Right), CanonicalText.SourceOf(source, binary.Right.Span)),
            FunctionCall call => new ValueFunction(call.Function, call.Arguments.Select(Value).ToArray()),
            AggregateExpression aggregate => Aggregate(aggregate),
            _ => throw new InvalidOperationException($"the binder let through a {node.GetType().Name} outside an aggregate"),
        };

        private AggregateValue Aggregate(AggregateExpression aggregate)
        {
            var name = CanonicalText.SourceOf(source, aggregate.Span);
            var index = _terms.FindIndex(t => string.Equals(t.Name, name, StringComparison.Ordinal));
            if (index < 0)
            {
                index = _terms.Count;
                _terms.Add(Term(aggregate, name));
            }

            return new AggregateValue(index, name);
        }

        private AggregateTerm Term(AggregateExpression aggregate, string name)
        {
            var objectModel = binder.AggregateObjects[aggregate];
            if (!_layouts.TryGetValue(objectModel, out var layout))
            {
                layout = new ObjectModelLayout(models[objectModel]);
                _layouts[objectModel] = layout;
            }

            var rows = new RowCompiler(layout, binder.Types);
            var argumentType = binder.Types[aggregate.Argument];
            var stateKind = aggregate.Function switch
            {
                AggregateFunction.Min => TermStateKind.Min,
                AggregateFunction.Max => TermStateKind.Max,
                AggregateFunction.CountDistinct when argumentType == FormulaType.Text => TermStateKind.DistinctTexts,
                AggregateFunction.CountDistinct => TermStateKind.DistinctNumbers,
                _ => TermStateKind.SumCount,
            };
            var argument = aggregate.Argument is ObjectReference ? "1" : CanonicalText.Of(aggregate.Argument);
            var stateKey = $"{stateKind}|{objectModel}|{argument}|{CanonicalText.Of(aggregate.Filter)}";
            return new AggregateTerm(aggregate, objectModel, name, stateKind, stateKey)
            {
                NumberArgument = aggregate.Argument is ObjectReference ? new NumberConstant(1)
                    : stateKind == TermStateKind.DistinctTexts ? null
                    : argumentType == FormulaType.Text ? new TextPresence(rows.Text(aggregate.Argument))
                    : rows.Number(aggregate.Argument),
                TextArgument = stateKind == TermStateKind.DistinctTexts ? rows.Text(aggregate.Argument) : null,
                Filter = aggregate.Filter is null ? null : rows.Predicate(aggregate.Filter),
                FilterKey = CanonicalText.Of(aggregate.Filter),
            };
        }
    }
}
