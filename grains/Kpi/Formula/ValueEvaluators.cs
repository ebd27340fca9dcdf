namespace AnalyticsEngine.Kpi.Formula;

/// <summary>A KPI-level result: a finite number, or no value (NaN) with the reason why.</summary>
internal readonly record struct Outcome(double Value, string? Reason)
{
    public bool HasValue => Reason is null;

    public static Outcome Of(double value) =>
        double.IsFinite(value) ? new Outcome(value, null) : new Outcome(double.NaN, "the result is not a finite number");

    public static Outcome None(string reason) => new(double.NaN, reason);
}

/// <summary>
/// The part of a formula outside its aggregates, evaluated once per published value (not per event) over the
/// aggregate results, in the order of <see cref="CompiledFormula.Aggregates"/>; NaN there means "no value".
/// </summary>
internal abstract class ValueNode
{
    public abstract Outcome Evaluate(ReadOnlySpan<double> aggregates);
}

internal sealed class ValueConstant(double value) : ValueNode
{
    public override Outcome Evaluate(ReadOnlySpan<double> aggregates) => Outcome.Of(value);
}

internal sealed class AggregateValue(int index, string sourceText) : ValueNode
{
    public override Outcome Evaluate(ReadOnlySpan<double> aggregates)
    {
        var value = aggregates[index];
        return double.IsNaN(value) ? Outcome.None($"{sourceText} has no value: no matching rows with a value") : Outcome.Of(value);
    }
}

internal sealed class ValueNegate(ValueNode operand) : ValueNode
{
    public override Outcome Evaluate(ReadOnlySpan<double> aggregates)
    {
        var value = operand.Evaluate(aggregates);
        return value.HasValue ? Outcome.Of(-value.Value) : value;
    }
}

internal sealed class ValueArithmetic(BinaryOperator op, ValueNode left, ValueNode right, string divisorText) : ValueNode
{
    public override Outcome Evaluate(ReadOnlySpan<double> aggregates)
    {
        var a = left.Evaluate(aggregates);
        if (!a.HasValue)
        {
            return a;
        }

        var b = right.Evaluate(aggregates);
        if (!b.HasValue)
        {
            return b;
        }

        return op switch
        {
            BinaryOperator.Add => Outcome.Of(a.Value + b.Value),
            BinaryOperator.Subtract => Outcome.Of(a.Value - b.Value),
            BinaryOperator.Multiply => Outcome.Of(a.Value * b.Value),
            _ => b.Value == 0 ? Outcome.None($"division by zero: {divisorText} is 0") : Outcome.Of(a.Value / b.Value),
        };
    }
}

internal sealed class ValueFunction(ScalarFunction function, ValueNode[] arguments) : ValueNode
{
    public override Outcome Evaluate(ReadOnlySpan<double> aggregates)
    {
        switch (function)
        {
            case ScalarFunction.Round:
                var value = arguments[0].Evaluate(aggregates);
                if (!value.HasValue)
                {
                    return value;
                }

                var digits = arguments.Length > 1 ? arguments[1].Evaluate(aggregates) : Outcome.Of(0);
                return digits.HasValue ? Outcome.Of(ScalarMath.Round(value.Value, digits.Value)) : digits;
            case ScalarFunction.Abs:
                var operand = arguments[0].Evaluate(aggregates);
                return operand.HasValue ? Outcome.Of(Math.Abs(operand.Value)) : operand;
            case ScalarFunction.Coalesce:
                var last = Outcome.None("coalesce has no arguments");
                foreach (var argument in arguments)
                {
                    last = argument.Evaluate(aggregates);
                    if (last.HasValue)
                    {
                        return last;
                    }
                }

                return last;
            default:
                Outcome? best = null;
                var reason = Outcome.None("no argument has a value");
                foreach (var argument in arguments)
                {
                    var candidate = argument.Evaluate(aggregates);
                    if (!candidate.HasValue)
                    {
                        reason = candidate;
                        continue;
                    }

                    if (best is null || (function == ScalarFunction.Least ? candidate.Value < best.Value.Value : candidate.Value > best.Value.Value))
                    {
                        best = candidate;
                    }
                }

                return best ?? reason;
        }
    }
}
