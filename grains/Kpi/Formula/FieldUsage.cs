namespace AnalyticsEngine.Kpi.Formula;

/// <summary>The object models and fields a formula reads, found by walking its syntax tree.</summary>
public static class FieldUsage
{
    /// <summary>Object model → the fields of it the formula names (an object used only in <c>count(obj)</c> has none).</summary>
    public static Dictionary<string, SortedSet<string>> Of(FormulaNode root)
    {
        var usage = new Dictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        Visit(root, usage);
        return usage;
    }

    private static void Visit(FormulaNode? node, Dictionary<string, SortedSet<string>> usage)
    {
        switch (node)
        {
            case FieldReference field:
                FieldsOf(usage, field.ObjectModel).Add(field.Field);
                break;
            case ObjectReference obj:
                FieldsOf(usage, obj.ObjectModel);
                break;
            case UnaryExpression unary:
                Visit(unary.Operand, usage);
                break;
            case BinaryExpression binary:
                Visit(binary.Left, usage);
                Visit(binary.Right, usage);
                break;
            case InExpression inList:
                Visit(inList.Operand, usage);
                inList.Values.ToList().ForEach(v => Visit(v, usage));
                break;
            case IsNullExpression isNull:
                Visit(isNull.Operand, usage);
                break;
            case AggregateExpression aggregate:
                Visit(aggregate.Argument, usage);
                Visit(aggregate.Filter, usage);
                break;
            case FunctionCall call:
                call.Arguments.ToList().ForEach(a => Visit(a, usage));
                break;
        }
    }

    private static SortedSet<string> FieldsOf(Dictionary<string, SortedSet<string>> usage, string objectModel) =>
        usage.TryGetValue(objectModel, out var fields) ? fields : usage[objectModel] = new SortedSet<string>(StringComparer.Ordinal);
}
