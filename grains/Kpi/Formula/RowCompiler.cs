using AnalyticsEngine.Kpi.Engine;

namespace AnalyticsEngine.Kpi.Formula;

/// <summary>Turns the bound expression inside an aggregate into row evaluators over one object model's layout.</summary>
internal sealed class RowCompiler(ObjectModelLayout layout, IReadOnlyDictionary<FormulaNode, FormulaType> types)
{
    public RowNumber Number(FormulaNode node)
    {
        switch (node)
        {
            case NumberLiteral number:
                return new NumberConstant(number.Value);
            case BooleanLiteral boolean:
                return new NumberConstant(boolean.Value ? 1 : 0);
            case FieldReference field:
                var slot = layout.Slot(field.Field);
                return slot.Kind == FieldSlotKind.Number ? new NumberSlot(slot.Index) : throw Unexpected(node);
            case UnaryExpression { Operator: UnaryOperator.Negate } negate:
                return new Negate(Number(negate.Operand));
            case BinaryExpression { Operator: BinaryOperator.Add or BinaryOperator.Subtract or BinaryOperator.Multiply or BinaryOperator.Divide } binary:
                return new Arithmetic(binary.Operator, Number(binary.Left), Number(binary.Right));
            case FunctionCall call:
                return new RowFunction(call.Function, call.Arguments.Select(Number).ToArray());
            default:
                // Conditions used as values (e.g. count_distinct(orders.a > orders.b)).
                return new TruthAsNumber(Predicate(node));
        }
    }

    public RowText Text(FormulaNode node) => node switch
    {
        StringLiteral text => new TextConstant(text.Value),
        FieldReference field when layout.Slot(field.Field).Kind == FieldSlotKind.Text => new TextSlot(layout.Slot(field.Field).Index),
        _ => throw Unexpected(node),
    };

    public RowPredicate Predicate(FormulaNode node)
    {
        switch (node)
        {
            case BooleanLiteral boolean:
                return new ConstantTruth(boolean.Value);
            case UnaryExpression { Operator: UnaryOperator.Not } not:
                return new NotTruth(Predicate(not.Operand));
            case BinaryExpression { Operator: BinaryOperator.And or BinaryOperator.Or } logical:
                return new Logical(logical.Operator, Predicate(logical.Left), Predicate(logical.Right));
            case BinaryExpression comparison when types[comparison.Left] == FormulaType.Text:
                return new CompareTexts(comparison.Operator, Text(comparison.Left), Text(comparison.Right));
            case BinaryExpression comparison:
                return new CompareNumbers(comparison.Operator, Number(comparison.Left), Number(comparison.Right));
            case InExpression inList when types[inList.Operand] == FormulaType.Text:
                return new TextIn(Text(inList.Operand), inList.Values.Cast<StringLiteral>().Select(v => v.Value).ToArray(), inList.Negated);
            case InExpression inList:
                return new NumberIn(Number(inList.Operand), inList.Values.Select(ConstantNumber).ToArray(), inList.Negated);
            case IsNullExpression isNull when types[isNull.Operand] == FormulaType.Text:
                return new TextIsNull(Text(isNull.Operand), isNull.Negated);
            case IsNullExpression isNull:
                return new NumberIsNull(Number(isNull.Operand), isNull.Negated);
            case FieldReference:
                return new NumberAsTruth(Number(node));
            default:
                throw Unexpected(node);
        }
    }

    private static double ConstantNumber(FormulaNode node) => node switch
    {
        NumberLiteral number => number.Value,
        BooleanLiteral boolean => boolean.Value ? 1 : 0,
        _ => throw Unexpected(node),
    };

    private static InvalidOperationException Unexpected(FormulaNode node) =>
        new($"the binder let through a {node.GetType().Name} the compiler cannot evaluate");
}
