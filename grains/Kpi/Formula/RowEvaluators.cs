using AnalyticsEngine.Ingest;

namespace AnalyticsEngine.Kpi.Formula;

/// <summary>SQL's three-valued logic: a comparison with a null is unknown, and a filter keeps only true rows.</summary>
internal enum Truth : byte
{
    False = 0,
    True = 1,
    Unknown = 2,
}

// Row evaluators run once per event per term, so they are small sealed classes with virtual calls: no allocation,
// no boxing, no closures. A null number is NaN throughout; any non-finite result becomes null.

/// <summary>A numeric expression over one row; NaN means null.</summary>
internal abstract class RowNumber
{
    public abstract double Evaluate(EventRow row);
}

/// <summary>A text expression over one row.</summary>
internal abstract class RowText
{
    public abstract string? Evaluate(EventRow row);
}

/// <summary>A condition over one row.</summary>
internal abstract class RowPredicate
{
    public abstract Truth Test(EventRow row);
}

internal sealed class NumberSlot(int index) : RowNumber
{
    public override double Evaluate(EventRow row) => row.Numbers[index];
}

internal sealed class NumberConstant(double value) : RowNumber
{
    public double Value { get; } = value;

    public override double Evaluate(EventRow row) => Value;
}

internal sealed class Negate(RowNumber operand) : RowNumber
{
    public override double Evaluate(EventRow row) => -operand.Evaluate(row);
}

internal sealed class Arithmetic(BinaryOperator op, RowNumber left, RowNumber right) : RowNumber
{
    public override double Evaluate(EventRow row)
    {
        var a = left.Evaluate(row);
        var b = right.Evaluate(row);
        var result = op switch
        {
            BinaryOperator.Add => a + b,
            BinaryOperator.Subtract => a - b,
            BinaryOperator.Multiply => a * b,
            _ => b == 0 ? double.NaN : a / b,
        };
        return double.IsFinite(result) ? result : double.NaN;
    }
}

internal sealed class RowFunction(ScalarFunction function, RowNumber[] arguments) : RowNumber
{
    public override double Evaluate(EventRow row)
    {
        switch (function)
        {
            case ScalarFunction.Round:
                // Rounding to tens or more of a value near the largest double can round past it: no value, as any
                // row result that is not a finite number.
                var value = arguments[0].Evaluate(row);
                var digits = arguments.Length > 1 ? arguments[1].Evaluate(row) : 0;
                var rounded = ScalarMath.Round(value, digits);
                return double.IsFinite(rounded) ? rounded : double.NaN;
            case ScalarFunction.Abs:
                return Math.Abs(arguments[0].Evaluate(row));
            case ScalarFunction.Coalesce:
                foreach (var argument in arguments)
                {
                    var candidate = argument.Evaluate(row);
                    if (!double.IsNaN(candidate))
                    {
                        return candidate;
                    }
                }

                return double.NaN;
            default:
                // least/greatest ignore nulls, as PostgreSQL does.
                var best = double.NaN;
                foreach (var argument in arguments)
                {
                    var candidate = argument.Evaluate(row);
                    if (!double.IsNaN(candidate) && (double.IsNaN(best) || (function == ScalarFunction.Least ? candidate < best : candidate > best)))
                    {
                        best = candidate;
                    }
                }

                return best;
        }
    }
}

/// <summary>A condition used as a number (1, 0 or null), e.g. for count_distinct of a boolean field.</summary>
internal sealed class TruthAsNumber(RowPredicate predicate) : RowNumber
{
    public override double Evaluate(EventRow row) => predicate.Test(row) switch
    {
        Truth.True => 1,
        Truth.False => 0,
        _ => double.NaN,
    };
}

/// <summary>1 when a text is present, null otherwise: lets count(text field) count non-null texts.</summary>
internal sealed class TextPresence(RowText operand) : RowNumber
{
    public override double Evaluate(EventRow row) => operand.Evaluate(row) is null ? double.NaN : 1;
}

internal sealed class TextSlot(int index) : RowText
{
    public override string? Evaluate(EventRow row) => row.Texts[index];
}

internal sealed class TextConstant(string value) : RowText
{
    public override string? Evaluate(EventRow row) => value;
}

internal sealed class ConstantTruth(bool value) : RowPredicate
{
    public override Truth Test(EventRow row) => value ? Truth.True : Truth.False;
}

/// <summary>A boolean field (or any 1/0/NaN number) read as a condition.</summary>
internal sealed class NumberAsTruth(RowNumber operand) : RowPredicate
{
    public override Truth Test(EventRow row)
    {
        var value = operand.Evaluate(row);
        return double.IsNaN(value) ? Truth.Unknown : value != 0 ? Truth.True : Truth.False;
    }
}

internal sealed class CompareNumbers(BinaryOperator op, RowNumber left, RowNumber right) : RowPredicate
{
    public override Truth Test(EventRow row)
    {
        var a = left.Evaluate(row);
        var b = right.Evaluate(row);
        if (double.IsNaN(a) || double.IsNaN(b))
        {
            return Truth.Unknown;
        }

        return ScalarMath.Compare(op, a.CompareTo(b)) ? Truth.True : Truth.False;
    }
}

internal sealed class CompareTexts(BinaryOperator op, RowText left, RowText right) : RowPredicate
{
    public override Truth Test(EventRow row)
    {
        var a = left.Evaluate(row);
        var b = right.Evaluate(row);
        if (a is null || b is null)
        {
            return Truth.Unknown;
        }

        return ScalarMath.Compare(op, string.CompareOrdinal(a, b)) ? Truth.True : Truth.False;
    }
}

internal sealed class Logical(BinaryOperator op, RowPredicate left, RowPredicate right) : RowPredicate
{
    public override Truth Test(EventRow row)
    {
        var a = left.Test(row);
        if (op == BinaryOperator.And)
        {
            if (a == Truth.False)
            {
                return Truth.False;
            }

            var b = right.Test(row);
            return b == Truth.False ? Truth.False : a == Truth.True && b == Truth.True ? Truth.True : Truth.Unknown;
        }

        if (a == Truth.True)
        {
            return Truth.True;
        }

        var c = right.Test(row);
        return c == Truth.True ? Truth.True : a == Truth.False && c == Truth.False ? Truth.False : Truth.Unknown;
    }
}

internal sealed class NotTruth(RowPredicate operand) : RowPredicate
{
    public override Truth Test(EventRow row) => operand.Test(row) switch
    {
        Truth.True => Truth.False,
        Truth.False => Truth.True,
        _ => Truth.Unknown,
    };
}

internal sealed class NumberIn(RowNumber operand, double[] values, bool negated) : RowPredicate
{
    public override Truth Test(EventRow row)
    {
        var value = operand.Evaluate(row);
        if (double.IsNaN(value))
        {
            return Truth.Unknown;
        }

        var found = Array.IndexOf(values, value) >= 0;
        return found != negated ? Truth.True : Truth.False;
    }
}

internal sealed class TextIn(RowText operand, string[] values, bool negated) : RowPredicate
{
    public override Truth Test(EventRow row)
    {
        var value = operand.Evaluate(row);
        if (value is null)
        {
            return Truth.Unknown;
        }

        var found = false;
        foreach (var candidate in values)
        {
            if (string.Equals(candidate, value, StringComparison.Ordinal))
            {
                found = true;
                break;
            }
        }

        return found != negated ? Truth.True : Truth.False;
    }
}

internal sealed class NumberIsNull(RowNumber operand, bool negated) : RowPredicate
{
    public override Truth Test(EventRow row) => double.IsNaN(operand.Evaluate(row)) != negated ? Truth.True : Truth.False;
}

internal sealed class TextIsNull(RowText operand, bool negated) : RowPredicate
{
    public override Truth Test(EventRow row) => operand.Evaluate(row) is null != negated ? Truth.True : Truth.False;
}

/// <summary>Arithmetic shared by the row evaluators and the KPI-level evaluator, so both paths agree.</summary>
internal static class ScalarMath
{
    public static bool Compare(BinaryOperator op, int comparison) => op switch
    {
        BinaryOperator.Equal => comparison == 0,
        BinaryOperator.NotEqual => comparison != 0,
        BinaryOperator.Less => comparison < 0,
        BinaryOperator.LessOrEqual => comparison <= 0,
        BinaryOperator.Greater => comparison > 0,
        _ => comparison >= 0,
    };

    /// <summary>Rounds half away from zero (as SQL does); digits are clamped to what a double can carry.</summary>
    public static double Round(double value, double digits)
    {
        if (double.IsNaN(value) || double.IsNaN(digits))
        {
            return double.NaN;
        }

        var places = (int)Math.Clamp(Math.Truncate(digits), -15, 15);
        if (places >= 0)
        {
            return Math.Round(value, places, MidpointRounding.AwayFromZero);
        }

        var scale = Math.Pow(10, -places);
        return Math.Round(value / scale, MidpointRounding.AwayFromZero) * scale;
    }
}
