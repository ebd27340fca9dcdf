namespace AnalyticsEngine.Kpi.Formula;

/// <summary>
/// A node of a parsed formula (the abstract syntax tree). The tree is the formula's meaning independent of any
/// evaluation strategy: the streaming engine compiles it to row evaluators and aggregate terms, and the query path
/// can translate the same tree to SQL. <see cref="Span"/> points back into the source text.
/// </summary>
public abstract class FormulaNode(SourceSpan span)
{
    /// <summary>Where this node is written in the formula text.</summary>
    public SourceSpan Span { get; } = span;
}

/// <summary>A numeric literal such as <c>100</c> or <c>0.5</c>.</summary>
public sealed class NumberLiteral(double value, SourceSpan span) : FormulaNode(span)
{
    public double Value { get; } = value;
}

/// <summary>A text literal in single quotes, e.g. <c>'Paid'</c> (a doubled quote stands for one quote).</summary>
public sealed class StringLiteral(string value, SourceSpan span) : FormulaNode(span)
{
    public string Value { get; } = value;
}

/// <summary><c>true</c> or <c>false</c>.</summary>
public sealed class BooleanLiteral(bool value, SourceSpan span) : FormulaNode(span)
{
    public bool Value { get; } = value;
}

/// <summary>A whole object model, e.g. <c>orders</c> in <c>count(orders)</c>: counts its rows.</summary>
public sealed class ObjectReference(string objectModel, SourceSpan span) : FormulaNode(span)
{
    public string ObjectModel { get; } = objectModel;
}

/// <summary>A field of an object model, <c>object.field</c>, e.g. <c>orders.delivered_at</c>.</summary>
public sealed class FieldReference(string objectModel, string field, SourceSpan span, SourceSpan fieldSpan) : FormulaNode(span)
{
    public string ObjectModel { get; } = objectModel;

    public string Field { get; } = field;

    /// <summary>Where the field name (after the dot) is written, so errors can point at it.</summary>
    public SourceSpan FieldSpan { get; } = fieldSpan;
}

/// <summary>Prefix operators.</summary>
public enum UnaryOperator
{
    /// <summary>Arithmetic negation, <c>-x</c>.</summary>
    Negate,

    /// <summary>Logical negation, <c>not p</c> (three-valued: not unknown is unknown).</summary>
    Not,
}

/// <summary>Infix operators, arithmetic, comparison and logical.</summary>
public enum BinaryOperator
{
    Add,
    Subtract,
    Multiply,
    Divide,
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    And,
    Or,
}

/// <summary><c>-x</c> or <c>not p</c>.</summary>
public sealed class UnaryExpression(UnaryOperator op, FormulaNode operand, SourceSpan span) : FormulaNode(span)
{
    public UnaryOperator Operator { get; } = op;

    public FormulaNode Operand { get; } = operand;
}

/// <summary><c>left op right</c>; <see cref="OperatorSpan"/> marks the operator for error messages.</summary>
public sealed class BinaryExpression(BinaryOperator op, FormulaNode left, FormulaNode right, SourceSpan span, SourceSpan operatorSpan)
    : FormulaNode(span)
{
    public BinaryOperator Operator { get; } = op;

    public FormulaNode Left { get; } = left;

    public FormulaNode Right { get; } = right;

    public SourceSpan OperatorSpan { get; } = operatorSpan;
}

/// <summary><c>x [not] in (v1, v2, ...)</c>; the values are literals.</summary>
public sealed class InExpression(FormulaNode operand, IReadOnlyList<FormulaNode> values, bool negated, SourceSpan span) : FormulaNode(span)
{
    public FormulaNode Operand { get; } = operand;

    public IReadOnlyList<FormulaNode> Values { get; } = values;

    public bool Negated { get; } = negated;
}

/// <summary><c>x is null</c> or <c>x is not null</c>.</summary>
public sealed class IsNullExpression(FormulaNode operand, bool negated, SourceSpan span) : FormulaNode(span)
{
    public FormulaNode Operand { get; } = operand;

    public bool Negated { get; } = negated;
}

/// <summary>The aggregate functions; each folds the rows of one object model into one value.</summary>
public enum AggregateFunction
{
    Sum,
    Count,
    Avg,
    Min,
    Max,
    CountDistinct,
}

/// <summary>
/// <c>fn(argument) [filter (where predicate)]</c>. The argument is an <see cref="ObjectReference"/> (count only) or an
/// expression over the fields of one object model; the filter reads the same object model.
/// </summary>
public sealed class AggregateExpression(AggregateFunction function, FormulaNode argument, FormulaNode? filter, SourceSpan span, SourceSpan nameSpan)
    : FormulaNode(span)
{
    public AggregateFunction Function { get; } = function;

    public FormulaNode Argument { get; } = argument;

    public FormulaNode? Filter { get; } = filter;

    /// <summary>Where the function name is written.</summary>
    public SourceSpan NameSpan { get; } = nameSpan;
}

/// <summary>The scalar functions, usable inside and outside aggregates.</summary>
public enum ScalarFunction
{
    /// <summary><c>round(x[, digits])</c>, halves away from zero.</summary>
    Round,

    /// <summary><c>abs(x)</c>.</summary>
    Abs,

    /// <summary><c>coalesce(a, b, ...)</c>: the first argument that has a value.</summary>
    Coalesce,

    /// <summary><c>least(a, b, ...)</c>: the smallest argument that has a value.</summary>
    Least,

    /// <summary><c>greatest(a, b, ...)</c>: the largest argument that has a value.</summary>
    Greatest,
}

/// <summary>A call of a <see cref="ScalarFunction"/>.</summary>
public sealed class FunctionCall(ScalarFunction function, IReadOnlyList<FormulaNode> arguments, SourceSpan span) : FormulaNode(span)
{
    public ScalarFunction Function { get; } = function;

    public IReadOnlyList<FormulaNode> Arguments { get; } = arguments;
}

/// <summary>Stands where the parser could not make sense of the input; its error is already reported.</summary>
public sealed class ErrorNode(SourceSpan span) : FormulaNode(span);
