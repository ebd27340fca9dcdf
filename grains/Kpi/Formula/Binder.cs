using AnalyticsEngine.Catalog;

namespace AnalyticsEngine.Kpi.Formula;

/// <summary>
/// Checks a parsed formula against the object models: names exist, types fit, aggregates are not nested and read
/// one object model each. It infers a <see cref="FormulaType"/> per node and keeps going after an error so the
/// caller sees every problem at once.
/// </summary>
internal sealed class Binder(string source, IReadOnlyDictionary<string, ObjectModelDefinition> models, List<FormulaError> errors)
{
    private readonly Dictionary<FormulaNode, FormulaType> _types = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<AggregateExpression, string> _aggregateObjects = new(ReferenceEqualityComparer.Instance);

    public IReadOnlyDictionary<FormulaNode, FormulaType> Types => _types;

    /// <summary>The object model each well-formed aggregate reads.</summary>
    public IReadOnlyDictionary<AggregateExpression, string> AggregateObjects => _aggregateObjects;

    public void BindFormula(FormulaNode root)
    {
        var type = Bind(root, scope: null);
        if (type is not (FormulaType.Number or FormulaType.Error))
        {
            Error(root.Span, $"a formula must produce a number, but this is {Describe(type)}");
        }
    }

    private FormulaType Bind(FormulaNode node, AggregateScope? scope)
    {
        var type = node switch
        {
            NumberLiteral => FormulaType.Number,
            StringLiteral => FormulaType.Text,
            BooleanLiteral => FormulaType.Boolean,
            ErrorNode => FormulaType.Error,
            FieldReference field => BindField(field, scope),
            ObjectReference reference => BindObjectOutsideCount(reference),
            UnaryExpression unary => BindUnary(unary, scope),
            BinaryExpression binary => BindBinary(binary, scope),
            InExpression inList => BindIn(inList, scope),
            IsNullExpression isNull => BindIsNull(isNull, scope),
            AggregateExpression aggregate => BindAggregate(aggregate, scope),
            FunctionCall call => BindFunction(call, scope),
            _ => throw new InvalidOperationException($"unhandled node {node.GetType().Name}"),
        };
        _types[node] = type;
        return type;
    }

    private FormulaType BindField(FieldReference field, AggregateScope? scope)
    {
        if (!models.TryGetValue(field.ObjectModel, out var model))
        {
            Error(new SourceSpan(field.Span.Start, field.ObjectModel.Length), UnknownObject(field.ObjectModel));
            return FormulaType.Error;
        }

        var definition = model.FindField(field.Field);
        if (definition is null)
        {
            Error(field.FieldSpan, $"unknown field '{field.Field}' in object model '{model.Code}'; its fields are: {string.Join(", ", model.Fields.Select(f => f.Name))}");
            return FormulaType.Error;
        }

        if (scope is null)
        {
            Error(field.Span, $"field '{field.ObjectModel}.{field.Field}' must be inside an aggregate such as sum(...), count(...) or max(...)");
            return FormulaType.Error;
        }

        scope.Use(field.ObjectModel, field.Span, this);
        return definition.Type switch
        {
            FieldType.Number or FieldType.Integer => FormulaType.Number,
            FieldType.Boolean => FormulaType.Boolean,
            FieldType.Text => FormulaType.Text,
            FieldType.Timestamp => FormulaType.Timestamp,
            _ => FormulaType.Error,
        };
    }

    private FormulaType BindObjectOutsideCount(ObjectReference reference)
    {
        Error(reference.Span, models.ContainsKey(reference.ObjectModel)
            ? $"'{reference.ObjectModel}' is an object model; only count({reference.ObjectModel}) takes it whole, elsewhere name a field such as {reference.ObjectModel}.<field>"
            : UnknownObject(reference.ObjectModel));
        return FormulaType.Error;
    }

    private FormulaType BindUnary(UnaryExpression unary, AggregateScope? scope)
    {
        var operand = Bind(unary.Operand, scope);
        if (unary.Operator == UnaryOperator.Negate)
        {
            return Require(operand, FormulaType.Number, unary.Operand.Span, "'-' needs a number") ? FormulaType.Number : FormulaType.Error;
        }

        return Require(operand, FormulaType.Boolean, unary.Operand.Span, "'not' needs a true/false condition") ? FormulaType.Boolean : FormulaType.Error;
    }

    private FormulaType BindBinary(BinaryExpression binary, AggregateScope? scope)
    {
        var left = Bind(binary.Left, scope);
        var right = Bind(binary.Right, scope);
        if (left == FormulaType.Error || right == FormulaType.Error)
        {
            return FormulaType.Error;
        }

        var symbol = Symbol(binary.Operator);
        switch (binary.Operator)
        {
            case BinaryOperator.And or BinaryOperator.Or:
                var ok = Require(left, FormulaType.Boolean, binary.Left.Span, $"'{symbol}' needs true/false conditions on both sides")
                    & Require(right, FormulaType.Boolean, binary.Right.Span, $"'{symbol}' needs true/false conditions on both sides");
                return ok ? FormulaType.Boolean : FormulaType.Error;
            case BinaryOperator.Subtract when left == FormulaType.Timestamp && right == FormulaType.Timestamp:
                return FormulaType.Number; // milliseconds between two instants
            case BinaryOperator.Add or BinaryOperator.Subtract or BinaryOperator.Multiply or BinaryOperator.Divide:
                if (left == FormulaType.Number && right == FormulaType.Number)
                {
                    return FormulaType.Number;
                }

                Error(binary.OperatorSpan, $"type mismatch: '{symbol}' needs numbers, but the left side is {Describe(left)} and the right side is {Describe(right)}");
                return FormulaType.Error;
            default:
                return BindComparison(binary, left, right, symbol);
        }
    }

    private FormulaType BindComparison(BinaryExpression binary, FormulaType left, FormulaType right, string symbol)
    {
        if (left != right || left == FormulaType.Object)
        {
            Error(binary.OperatorSpan, $"type mismatch: cannot compare {Describe(left)} with {Describe(right)} using '{symbol}'");
            return FormulaType.Error;
        }

        var ordering = binary.Operator is not (BinaryOperator.Equal or BinaryOperator.NotEqual);
        if (ordering && left == FormulaType.Boolean)
        {
            Error(binary.OperatorSpan, $"true/false values can only be compared with '=' or '!=', not '{symbol}'");
            return FormulaType.Error;
        }

        return FormulaType.Boolean;
    }

    private FormulaType BindIn(InExpression inList, AggregateScope? scope)
    {
        var operand = Bind(inList.Operand, scope);
        var ok = operand != FormulaType.Error;
        foreach (var value in inList.Values)
        {
            var valueType = Bind(value, scope);
            if (ok && valueType != FormulaType.Error && valueType != operand)
            {
                Error(value.Span, $"type mismatch: the list holds {Describe(valueType)} but the value tested is {Describe(operand)}");
                ok = false;
            }
        }

        return ok ? FormulaType.Boolean : FormulaType.Error;
    }

    private FormulaType BindIsNull(IsNullExpression isNull, AggregateScope? scope)
    {
        var operand = Bind(isNull.Operand, scope);
        return operand == FormulaType.Error ? FormulaType.Error : FormulaType.Boolean;
    }

    private FormulaType BindAggregate(AggregateExpression aggregate, AggregateScope? outer)
    {
        var name = AggregateName(aggregate.Function);
        if (outer is not null)
        {
            Error(aggregate.NameSpan, $"aggregate {name}(...) cannot be used inside another aggregate");
            outer.Fail();
        }

        // A nested aggregate gets its own scope so its own object and type checks still run.
        var scope = new AggregateScope();
        FormulaType argument;
        if (aggregate.Argument is ObjectReference whole)
        {
            argument = FormulaType.Object;
            _types[whole] = FormulaType.Object;
            if (aggregate.Function != AggregateFunction.Count)
            {
                Error(whole.Span, models.ContainsKey(whole.ObjectModel)
                    ? $"{name}({whole.ObjectModel}) needs a field such as {whole.ObjectModel}.<field>; only count takes a whole object model"
                    : UnknownObject(whole.ObjectModel));
                argument = FormulaType.Error;
            }
            else if (!models.ContainsKey(whole.ObjectModel))
            {
                Error(whole.Span, UnknownObject(whole.ObjectModel));
                argument = FormulaType.Error;
            }
            else
            {
                scope.Use(whole.ObjectModel, whole.Span, this);
            }
        }
        else
        {
            argument = Bind(aggregate.Argument, scope);
            CheckAggregateArgument(aggregate, argument, name);
        }

        if (aggregate.Filter is not null)
        {
            var filter = Bind(aggregate.Filter, scope);
            Require(filter, FormulaType.Boolean, aggregate.Filter.Span, "a filter needs a true/false condition");
        }

        if (scope.ObjectModel is null && argument != FormulaType.Error && !scope.Failed)
        {
            Error(aggregate.Argument.Span, $"{name}(...) must read an object model, e.g. {name}(orders.value) or count(orders)");
        }
        else if (scope.ObjectModel is not null && !scope.Failed && outer is null)
        {
            _aggregateObjects[aggregate] = scope.ObjectModel;
        }

        return FormulaType.Number;
    }

    private void CheckAggregateArgument(AggregateExpression aggregate, FormulaType argument, string name)
    {
        if (argument == FormulaType.Error)
        {
            return;
        }

        var fits = aggregate.Function switch
        {
            AggregateFunction.Sum or AggregateFunction.Avg => argument == FormulaType.Number,
            AggregateFunction.Min or AggregateFunction.Max => argument is FormulaType.Number or FormulaType.Timestamp,
            _ => true,
        };
        if (!fits)
        {
            var hint = argument == FormulaType.Boolean ? "; to count rows where it holds use count(...) filter (where ...)" : string.Empty;
            Error(aggregate.Argument.Span, $"type mismatch: {name} needs a number{(aggregate.Function is AggregateFunction.Min or AggregateFunction.Max ? " or timestamp" : string.Empty)}, but this is {Describe(argument)}{hint}");
        }
    }

    private FormulaType BindFunction(FunctionCall call, AggregateScope? scope)
    {
        var name = call.Function.ToString().ToLowerInvariant();
        var (min, max) = call.Function switch
        {
            ScalarFunction.Round => (1, 2),
            ScalarFunction.Abs => (1, 1),
            _ => (1, int.MaxValue),
        };
        var ok = true;
        if (call.Arguments.Count < min || call.Arguments.Count > max)
        {
            var expected = min == max ? $"{min}" : max == int.MaxValue ? $"at least {min}" : $"{min} to {max}";
            Error(call.Span, $"{name} takes {expected} argument{(expected == "1" ? string.Empty : "s")}, not {call.Arguments.Count}");
            ok = false;
        }

        foreach (var argument in call.Arguments)
        {
            var type = Bind(argument, scope);
            ok &= Require(type, FormulaType.Number, argument.Span, $"{name} needs numbers");
        }

        return ok ? FormulaType.Number : FormulaType.Error;
    }

    private bool Require(FormulaType actual, FormulaType expected, SourceSpan span, string message)
    {
        if (actual == expected)
        {
            return true;
        }

        if (actual != FormulaType.Error)
        {
            Error(span, $"type mismatch: {message}, but this is {Describe(actual)}");
        }

        return false;
    }

    private string UnknownObject(string name) =>
        $"unknown object model '{name}'; known: {string.Join(", ", models.Keys.Order(StringComparer.Ordinal))}";

    internal void Error(SourceSpan span, string message) => errors.Add(FormulaError.At(source, span, message));

    internal static string AggregateName(AggregateFunction function) => function switch
    {
        AggregateFunction.CountDistinct => "count_distinct",
        _ => function.ToString().ToLowerInvariant(),
    };

    internal static string Symbol(BinaryOperator op) => op switch
    {
        BinaryOperator.Add => "+",
        BinaryOperator.Subtract => "-",
        BinaryOperator.Multiply => "*",
        BinaryOperator.Divide => "/",
        BinaryOperator.Equal => "=",
        BinaryOperator.NotEqual => "!=",
        BinaryOperator.Less => "<",
        BinaryOperator.LessOrEqual => "<=",
        BinaryOperator.Greater => ">",
        BinaryOperator.GreaterOrEqual => ">=",
        BinaryOperator.And => "and",
        _ => "or",
    };

    private static string Describe(FormulaType type) => type switch
    {
        FormulaType.Number => "a number",
        FormulaType.Boolean => "a true/false condition",
        FormulaType.Text => "text",
        FormulaType.Timestamp => "a timestamp",
        FormulaType.Object => "a whole object model",
        _ => "invalid",
    };

    /// <summary>What one aggregate has read so far: all its fields must come from one object model.</summary>
    private sealed class AggregateScope
    {
        public string? ObjectModel { get; private set; }

        public bool Failed { get; private set; }

        public void Fail() => Failed = true;

        public void Use(string objectModel, SourceSpan span, Binder binder)
        {
            if (ObjectModel is null)
            {
                ObjectModel = objectModel;
            }
            else if (!string.Equals(ObjectModel, objectModel, StringComparison.Ordinal))
            {
                binder.Error(span, $"one aggregate reads one object model: this reads '{objectModel}' but the aggregate already reads '{ObjectModel}'");
                Failed = true;
            }
        }
    }
}
