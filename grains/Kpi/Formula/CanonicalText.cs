using System.Globalization;
using System.Text;

namespace AnalyticsEngine.Kpi.Formula;

/// <summary>
/// Prints an expression in one normal form (lower-case keywords, full parentheses, sorted operands where order
/// cannot change the result), so terms written differently but meaning the same are computed once.
/// </summary>
internal static class CanonicalText
{
    public static string Of(FormulaNode? node)
    {
        if (node is null)
        {
            return string.Empty;
        }

        var builder = new StringBuilder();
        Write(node, builder);
        return builder.ToString();
    }

    /// <summary>The source text of a node with runs of whitespace outside quotes collapsed, for display names.</summary>
    public static string SourceOf(string source, SourceSpan span)
    {
        var builder = new StringBuilder(span.Length);
        var inQuotes = false;
        var pendingSpace = false;
        for (var i = span.Start; i < span.End && i < source.Length; i++)
        {
            var c = source[i];
            if (!inQuotes && char.IsWhiteSpace(c))
            {
                pendingSpace = builder.Length > 0;
                continue;
            }

            if (pendingSpace)
            {
                builder.Append(' ');
                pendingSpace = false;
            }

            if (c == '\'')
            {
                inQuotes = !inQuotes;
            }

            builder.Append(c);
        }

        return builder.ToString();
    }

    private static void Write(FormulaNode node, StringBuilder builder)
    {
        switch (node)
        {
            case NumberLiteral number:
                builder.Append(number.Value.ToString("R", CultureInfo.InvariantCulture));
                break;
            case StringLiteral text:
                builder.Append('\'').Append(text.Value.Replace("'", "''", StringComparison.Ordinal)).Append('\'');
                break;
            case BooleanLiteral boolean:
                builder.Append(boolean.Value ? "true" : "false");
                break;
            case ObjectReference reference:
                builder.Append(reference.ObjectModel);
                break;
            case FieldReference field:
                builder.Append(field.ObjectModel).Append('.').Append(field.Field);
                break;
            case UnaryExpression unary:
                builder.Append(unary.Operator == UnaryOperator.Negate ? "(-" : "(not ");
                Write(unary.Operand, builder);
                builder.Append(')');
                break;
            case BinaryExpression binary:
                WriteBinary(binary, builder);
                break;
            case InExpression inList:
                builder.Append('(');
                Write(inList.Operand, builder);
                builder.Append(inList.Negated ? " not in (" : " in (");
                builder.AppendJoin(",", inList.Values.Select(Of).Distinct().Order(StringComparer.Ordinal));
                builder.Append("))");
                break;
            case IsNullExpression isNull:
                builder.Append('(');
                Write(isNull.Operand, builder);
                builder.Append(isNull.Negated ? " is not null)" : " is null)");
                break;
            case AggregateExpression aggregate:
                builder.Append(Binder.AggregateName(aggregate.Function)).Append('(');
                Write(aggregate.Argument, builder);
                builder.Append(')');
                if (aggregate.Filter is not null)
                {
                    builder.Append(" filter (where ");
                    Write(aggregate.Filter, builder);
                    builder.Append(')');
                }

                break;
            case FunctionCall call:
                builder.Append(call.Function.ToString().ToLowerInvariant()).Append('(');
                builder.AppendJoin(",", call.Arguments.Select(Of));
                builder.Append(')');
                break;
            default:
                builder.Append("?error?");
                break;
        }
    }

    private static void WriteBinary(BinaryExpression binary, StringBuilder builder)
    {
        if (binary.Operator is BinaryOperator.And or BinaryOperator.Or)
        {
            // and/or chains are associative and commutative: flatten and sort.
            var operands = new List<string>();
            Flatten(binary, binary.Operator, operands);
            var distinct = operands.Distinct().Order(StringComparer.Ordinal).ToList();
            if (distinct.Count == 1)
            {
                builder.Append(distinct[0]); // "p and p" is just p
                return;
            }

            builder.Append('(').AppendJoin(binary.Operator == BinaryOperator.And ? " and " : " or ", distinct).Append(')');
            return;
        }

        var left = Of(binary.Left);
        var right = Of(binary.Right);
        var symmetric = binary.Operator is BinaryOperator.Add or BinaryOperator.Multiply or BinaryOperator.Equal or BinaryOperator.NotEqual;
        if (symmetric && string.CompareOrdinal(left, right) > 0)
        {
            (left, right) = (right, left);
        }

        builder.Append('(').Append(left).Append(' ').Append(Binder.Symbol(binary.Operator)).Append(' ').Append(right).Append(')');
    }

    private static void Flatten(FormulaNode node, BinaryOperator op, List<string> into)
    {
        if (node is BinaryExpression binary && binary.Operator == op)
        {
            Flatten(binary.Left, op, into);
            Flatten(binary.Right, op, into);
        }
        else
        {
            into.Add(Of(node));
        }
    }
}
