using AnalyticsEngine.Catalog;
using AnalyticsEngine.Ingest;
using AnalyticsEngine.Kpi.Engine;
using AnalyticsEngine.Kpi.Formula;

namespace AnalyticsEngine.Kpi.Tests;

/// <summary>
/// The test oracle: evaluates a formula's syntax tree directly over all rows, with no buckets, no partial states and
/// no sharing — the plainest reading of the language's rules, to compare the incremental engine against.
/// </summary>
internal sealed class BruteForce(IReadOnlyDictionary<string, ObjectModelDefinition> models, IReadOnlyDictionary<string, List<EventRow>> rowsByObject)
{
    /// <summary>The formula's value over [start, end): event rows inside it, snapshot keys' latest rows before end.</summary>
    public (double? Value, long EventCount) Evaluate(FormulaNode formula, DateTimeOffset start, DateTimeOffset end)
    {
        var value = Value(formula, start, end);
        long count = 0;
        foreach (var objectModel in ObjectsOf(formula).Distinct())
        {
            count += Rows(objectModel).Count(r => r.EventTime >= start && r.EventTime < end);
        }

        return (value, count);
    }

    private IEnumerable<string> ObjectsOf(FormulaNode node) => node switch
    {
        AggregateExpression a => [ObjectOf(a)],
        BinaryExpression b => ObjectsOf(b.Left).Concat(ObjectsOf(b.Right)),
        UnaryExpression u => ObjectsOf(u.Operand),
        FunctionCall f => f.Arguments.SelectMany(ObjectsOf),
        _ => [],
    };

    private List<EventRow> Rows(string objectModel) => rowsByObject.TryGetValue(objectModel, out var rows) ? rows : [];

    private double? Value(FormulaNode node, DateTimeOffset start, DateTimeOffset end)
    {
        switch (node)
        {
            case NumberLiteral n:
                return n.Value;
            case UnaryExpression u:
                return -Value(u.Operand, start, end);
            case BinaryExpression b:
                var left = Value(b.Left, start, end);
                var right = Value(b.Right, start, end);
                if (left is null || right is null)
                {
                    return null;
                }

                var result = b.Operator switch
                {
                    BinaryOperator.Add => left + right,
                    BinaryOperator.Subtract => left - right,
                    BinaryOperator.Multiply => left * right,
                    _ => right == 0 ? null : left / right,
                };
                return result is { } r && double.IsFinite(r) ? r : null;
            case FunctionCall f:
                return Function(f.Function, f.Arguments.Select(a => Value(a, start, end)).ToList());
            case AggregateExpression a:
                return Aggregate(a, start, end);
            default:
                throw new InvalidOperationException(node.GetType().Name);
        }
    }

    private static double? Function(ScalarFunction function, List<double?> args)
    {
        switch (function)
        {
            case ScalarFunction.Round:
                if (args[0] is not { } x)
                {
                    return null;
                }

                var digits = args.Count > 1 ? args[1] : 0;
                if (digits is null)
                {
                    return null;
                }

                var d = (int)Math.Clamp(Math.Truncate(digits.Value), -15, 15);
                return d >= 0 ? Math.Round(x, d, MidpointRounding.AwayFromZero) : Math.Round(x / Math.Pow(10, -d), MidpointRounding.AwayFromZero) * Math.Pow(10, -d);
            case ScalarFunction.Abs:
                return args[0] is { } y ? Math.Abs(y) : null;
            case ScalarFunction.Coalesce:
                return args.FirstOrDefault(v => v is not null);
            case ScalarFunction.Least:
                return args.Where(v => v is not null).Min();
            default:
                return args.Where(v => v is not null).Max();
        }
    }

    private string ObjectOf(AggregateExpression aggregate)
    {
        return aggregate.Argument is ObjectReference o ? o.ObjectModel : First(aggregate.Argument) ?? First(aggregate.Filter!)!;

        static string? First(FormulaNode node) => node switch
        {
            FieldReference f => f.ObjectModel,
            BinaryExpression b => First(b.Left) ?? First(b.Right),
            UnaryExpression u => First(u.Operand),
            FunctionCall f => f.Arguments.Select(First).FirstOrDefault(x => x is not null),
            InExpression i => First(i.Operand),
            IsNullExpression n => First(n.Operand),
            _ => null,
        };
    }

    private IEnumerable<EventRow> RowsFor(string objectModel, DateTimeOffset start, DateTimeOffset end)
    {
        var rows = Rows(objectModel);
        if (models[objectModel].Kind == ObjectKind.Event)
        {
            return rows.Where(r => r.EventTime >= start && r.EventTime < end);
        }

        // Snapshot: per key, the row with the latest event time (then highest sequence) before the end.
        var layout = TestModels.LayoutOf(objectModel);
        return rows.Where(r => r.EventTime < end)
            .GroupBy(r => string.Join("|", layout.KeySlots.Select(s => s.Kind == FieldSlotKind.Text ? r.Texts[s.Index] : r.Numbers[s.Index].ToString(System.Globalization.CultureInfo.InvariantCulture))))
            .Select(g => g.OrderBy(r => r.EventTime).ThenBy(r => r.Sequence).Last());
    }

    private double? Aggregate(AggregateExpression aggregate, DateTimeOffset start, DateTimeOffset end)
    {
        var objectModel = ObjectOf(aggregate);
        var layout = TestModels.LayoutOf(objectModel);
        var values = new List<object>();
        foreach (var row in RowsFor(objectModel, start, end))
        {
            if (aggregate.Filter is not null && Row(aggregate.Filter, row, layout) is not true)
            {
                continue;
            }

            var value = aggregate.Argument is ObjectReference ? 1.0 : Row(aggregate.Argument, row, layout);
            if (value is not null)
            {
                values.Add(value is bool b ? (b ? 1.0 : 0.0) : value);
            }
        }

        var numbers = values.OfType<double>().ToList();
        return aggregate.Function switch
        {
            AggregateFunction.Count => values.Count,
            AggregateFunction.CountDistinct => values.Distinct().Count(),
            AggregateFunction.Sum => numbers.Count == 0 ? null : numbers.Sum(),
            AggregateFunction.Avg => numbers.Count == 0 ? null : numbers.Average(),
            AggregateFunction.Min => numbers.Count == 0 ? null : numbers.Min(),
            _ => numbers.Count == 0 ? null : numbers.Max(),
        };
    }

    /// <summary>Row-level value: double, string, bool, or null (SQL null / unknown).</summary>
    private static object? Row(FormulaNode node, EventRow row, ObjectModelLayout layout)
    {
        switch (node)
        {
            case NumberLiteral n:
                return n.Value;
            case StringLiteral s:
                return s.Value;
            case BooleanLiteral b:
                return b.Value;
            case FieldReference f:
                var slot = layout.Slot(f.Field);
                if (slot.Kind == FieldSlotKind.Text)
                {
                    return row.Texts[slot.Index];
                }

                var number = row.Numbers[slot.Index];
                if (double.IsNaN(number))
                {
                    return null;
                }

                return slot.Type == FieldType.Boolean ? number != 0 : number;
            case UnaryExpression { Operator: UnaryOperator.Negate } u:
                return Row(u.Operand, row, layout) is double x ? -x : null;
            case UnaryExpression u:
                return Row(u.Operand, row, layout) is bool p ? !p : null;
            case BinaryExpression { Operator: BinaryOperator.And } b:
            {
                var l = Row(b.Left, row, layout) as bool?;
                var r = Row(b.Right, row, layout) as bool?;
                return l == false || r == false ? false : l == true && r == true ? true : null;
            }

            case BinaryExpression { Operator: BinaryOperator.Or } b:
            {
                var l = Row(b.Left, row, layout) as bool?;
                var r = Row(b.Right, row, layout) as bool?;
                return l == true || r == true ? true : l == false && r == false ? false : null;
            }

            case BinaryExpression b when b.Operator is BinaryOperator.Add or BinaryOperator.Subtract or BinaryOperator.Multiply or BinaryOperator.Divide:
            {
                if (Row(b.Left, row, layout) is not double l || Row(b.Right, row, layout) is not double r)
                {
                    return null;
                }

                double result = b.Operator switch
                {
                    BinaryOperator.Add => l + r,
                    BinaryOperator.Subtract => l - r,
                    BinaryOperator.Multiply => l * r,
                    _ => r == 0 ? double.NaN : l / r,
                };
                return double.IsFinite(result) ? result : null;
            }

            case BinaryExpression b:
            {
                var l = Row(b.Left, row, layout);
                var r = Row(b.Right, row, layout);
                if (l is null || r is null)
                {
                    return null;
                }

                var c = l switch
                {
                    double ln => ln.CompareTo((double)r),
                    string ls => string.CompareOrdinal(ls, (string)r),
                    bool lb => lb.CompareTo((bool)r),
                    _ => throw new InvalidOperationException(),
                };
                return b.Operator switch
                {
                    BinaryOperator.Equal => c == 0,
                    BinaryOperator.NotEqual => c != 0,
                    BinaryOperator.Less => c < 0,
                    BinaryOperator.LessOrEqual => c <= 0,
                    BinaryOperator.Greater => c > 0,
                    _ => c >= 0,
                };
            }

            case InExpression i:
            {
                var v = Row(i.Operand, row, layout);
                if (v is null)
                {
                    return null;
                }

                var found = i.Values.Any(x => Equals(Row(x, row, layout), v));
                return found != i.Negated;
            }

            case IsNullExpression n:
                return (Row(n.Operand, row, layout) is null) != n.Negated;
            case FunctionCall f:
                return Function(f.Function, f.Arguments.Select(a => Row(a, row, layout) as double?).ToList()) is { } value && double.IsFinite(value) ? value : null;
            default:
                throw new InvalidOperationException(node.GetType().Name);
        }
    }
}
