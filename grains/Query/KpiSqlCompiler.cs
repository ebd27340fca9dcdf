using System.Globalization;
using System.Text;
using AnalyticsEngine.Catalog;
using AnalyticsEngine.Kpi.Formula;

namespace AnalyticsEngine.Query;

/// <summary>
/// Compiles a KPI formula — the same <see cref="CompiledFormula"/> the stream evaluates — to one parameterized SQL
/// statement over the object-model tables. Each aggregate becomes an SQL aggregate with <c>FILTER (WHERE …)</c>
/// returning the same partial state the engine keeps (sum and count, min, max, distinct count); the arithmetic
/// over the aggregates stays in C# (<see cref="CompiledFormula.Evaluate"/>), shared with the stream.
/// </summary>
/// <remarks>
/// Identifiers come only from the catalog's object models and are quoted; every value of the formula is a
/// parameter. Fixed parameters: <c>$1</c> client id, <c>$2</c> bucket boundaries (timestamptz[]), <c>$3</c> the first
/// boundary, <c>$4</c> the last; the formula's literals follow from <c>$5</c>.
/// Row expressions mirror the engine's row evaluators: null where the engine has NaN (a division by zero included),
/// SQL's three-valued logic in filters, timestamps as Unix milliseconds in arithmetic, text ordered by code point.
/// </remarks>
internal static class KpiSqlCompiler
{
    public const int FixedParameters = 4;

    /// <summary>Compiles <paramref name="formula"/>; <paramref name="dimension"/> must already be validated with <see cref="DimensionProblem"/>.</summary>
    public static KpiSqlPlan Compile(CompiledFormula formula, IReadOnlyDictionary<string, ObjectModelDefinition> models, string? dimension)
    {
        ArgumentNullException.ThrowIfNull(formula);
        ArgumentNullException.ThrowIfNull(models);
        var parameters = new List<object>();
        var objects = formula.ObjectModels.Select(m => models[m]).ToArray();
        var grouped = dimension is not null;
        if (objects.Length == 0)
        {
            // A formula of constants reads no table: one row that says "no bucket has rows".
            return new KpiSqlPlan(formula, grouped ? "SELECT NULL::int, NULL::text" : "SELECT NULL::int", parameters, [], grouped, [], [], []);
        }

        var keys = grouped ? "\"#bucket\", \"#dim\"" : "\"#bucket\"";
        var groupBy = grouped ? "GROUP BY 1, 2" : "GROUP BY 1";

        // State columns per object, shared by aggregates with the same state key (as the engine shares state).
        var terms = new KpiSqlPlan.TermColumns[formula.Aggregates.Count];
        var selectColumns = new List<string> { "d.\"#bucket\"" };
        if (grouped)
        {
            selectColumns.Add("d.\"#dim\"");
        }

        var ctes = new List<string>();
        var joined = new List<string>();
        var eventColumns = new int[objects.Length];
        var newestColumns = new int[objects.Length];
        for (var k = 0; k < objects.Length; k++)
        {
            var model = objects[k];
            var table = $"{Quote(model.Domain)}.{Quote(model.Code)}";
            var time = $"t.{Quote(model.EventTimeField)}";
            var rows = new RowSql(model, parameters);
            var dim = grouped ? $", coalesce('=' || t.{Quote(dimension!)}::text, '') AS \"#dim\"" : string.Empty;

            // The aggregates of this object, one SQL expression per state column.
            var aggregates = new List<string>();
            var byStateKey = new Dictionary<string, KpiSqlPlan.TermColumns>(StringComparer.Ordinal);
            for (var a = 0; a < formula.Aggregates.Count; a++)
            {
                var term = formula.Aggregates[a];
                if (!string.Equals(term.ObjectModel, model.Code, StringComparison.Ordinal))
                {
                    continue;
                }

                if (!byStateKey.TryGetValue(term.StateKey, out var columns))
                {
                    columns = AddState(term, rows, k, aggregates, selectColumns);
                    byStateKey.Add(term.StateKey, columns);
                }

                terms[a] = columns;
            }

            var aggregateList = aggregates.Count == 0 ? string.Empty : ",\n           " + string.Join(",\n           ", aggregates);
            eventColumns[k] = selectColumns.Count;
            selectColumns.Add($"d.\"#events{k}\"");
            newestColumns[k] = selectColumns.Count;
            selectColumns.Add($"d.\"#newest{k}\"");
            if (model.Kind == ObjectKind.Event)
            {
                ctes.Add(
                    $"""
                    o{k} AS (
                        SELECT width_bucket({time}, $2) AS "#bucket"{dim},
                               count(*)::float8 AS "#events{k}", max({time}) AS "#newest{k}"{aggregateList}
                        FROM {table} AS t
                        WHERE t.client_id = $1 AND {time} >= $3 AND {time} < $4
                        {groupBy})
                    """);
                joined.Add($"o{k}");
            }
            else
            {
                // Snapshot objects: a row is a key's latest as of a bucket's end when it is before that end and the
                // key's next row (by event time, then sequence) is not; it counts in that run of buckets.
                var partition = string.Join(", ", model.KeyFields.Select(f => $"t.{Quote(f)}"));
                ctes.Add(
                    $"""
                    r{k} AS (
                        SELECT t.*, greatest(width_bucket({time}, $2), 1) AS "#lo",
                               coalesce(width_bucket(lead({time}) OVER (PARTITION BY {partition} ORDER BY {time}, t.sequence), $2) - 1,
                                        array_length($2, 1) - 1) AS "#hi"
                        FROM {table} AS t
                        WHERE t.client_id = $1 AND {time} < $4)
                    """);
                ctes.Add(
                    $"""
                    o{k} AS (
                        SELECT g."#bucket"{dim},
                               max({time}) AS "#newest{k}"{aggregateList}
                        FROM r{k} AS t CROSS JOIN LATERAL generate_series(t."#lo", least(t."#hi", array_length($2, 1) - 1)) AS g("#bucket")
                        {groupBy})
                    """);
                ctes.Add(
                    $"""
                    n{k} AS (
                        SELECT width_bucket({time}, $2) AS "#bucket"{dim}, count(*)::float8 AS "#events{k}"
                        FROM {table} AS t
                        WHERE t.client_id = $1 AND {time} >= $3 AND {time} < $4
                        {groupBy})
                    """);
                joined.Add($"o{k}");
                joined.Add($"n{k}");
            }
        }

        var positionColumns = new int[objects.Length];
        var positions = new List<string>();
        for (var k = 0; k < objects.Length; k++)
        {
            positionColumns[k] = selectColumns.Count;
            selectColumns.Add($"p.\"#seq{k}\"");
            positions.Add($"(SELECT max(sequence) FROM {Quote(objects[k].Domain)}.{Quote(objects[k].Code)} WHERE client_id = $1) AS \"#seq{k}\"");
        }

        var data = joined.Count == 1
            ? joined[0]
            : "(SELECT * FROM " + joined[0] + string.Concat(joined.Skip(1).Select(j => $" FULL JOIN {j} USING ({keys})")) + ")";
        var sql = new StringBuilder();
        sql.Append("WITH ").AppendJoin(",\n", ctes).Append('\n');
        sql.Append("SELECT ").AppendJoin(", ", selectColumns).Append('\n');
        sql.Append("FROM (SELECT ").AppendJoin(", ", positions).Append(") AS p\n");
        sql.Append("LEFT JOIN ").Append(data).Append(" AS d ON true");
        return new KpiSqlPlan(formula, sql.ToString(), parameters, terms, grouped, eventColumns, newestColumns, positionColumns);
    }

    /// <summary>Null when <paramref name="dimension"/> can group every object model of the formula, else why not.</summary>
    public static string? DimensionProblem(CompiledFormula formula, IReadOnlyDictionary<string, ObjectModelDefinition> models, string dimension)
    {
        foreach (var code in formula.ObjectModels)
        {
            var field = models[code].FindField(dimension);
            if (field is null)
            {
                return $"'{code}' has no field '{dimension}'; its fields are: {string.Join(", ", models[code].Fields.Select(f => f.Name))}.";
            }

            if (field.Type is not (FieldType.Text or FieldType.Boolean or FieldType.Integer))
            {
                return $"'{code}.{dimension}' is a {field.Type.ToString().ToLowerInvariant()} field; drill down by a text, boolean or integer field.";
            }
        }

        return null;
    }

    private static KpiSqlPlan.TermColumns AddState(AggregateTerm term, RowSql rows, int k, List<string> aggregates, List<string> selectColumns)
    {
        var syntax = term.Syntax;
        var filter = syntax.Filter is null ? string.Empty : $" FILTER (WHERE {rows.Predicate(syntax.Filter)})";
        string Column(string aggregate, string cast = "")
        {
            // FILTER belongs to the aggregate call itself, so any cast goes around both.
            var name = $"#s{k}_{aggregates.Count}";
            aggregates.Add(cast.Length == 0 ? $"{aggregate}{filter} AS {Quote(name)}" : $"({aggregate}{filter}){cast} AS {Quote(name)}");
            selectColumns.Add($"d.{Quote(name)}");
            return name;
        }

        switch (term.StateKind)
        {
            case TermStateKind.SumCount when syntax.Argument is ObjectReference:
            {
                var count = selectColumns.Count;
                Column("count(*)", "::float8");
                return new KpiSqlPlan.TermColumns(count, count);
            }

            case TermStateKind.SumCount:
            {
                // count(text) counts present texts; any other argument is a number (booleans and conditions as 1/0).
                var isText = rows.TypeOf(syntax.Argument) == FormulaType.Text;
                var value = isText ? rows.Text(syntax.Argument) : rows.Number(syntax.Argument);
                var sum = -1;
                if (!isText)
                {
                    sum = selectColumns.Count;
                    Column($"sum({value})");
                }

                var count = selectColumns.Count;
                Column($"count({value})", "::float8");
                return new KpiSqlPlan.TermColumns(sum, count);
            }

            case TermStateKind.Min or TermStateKind.Max:
            {
                var column = selectColumns.Count;
                Column($"{(term.StateKind == TermStateKind.Min ? "min" : "max")}({rows.Number(syntax.Argument)})");
                return new KpiSqlPlan.TermColumns(column, -1);
            }

            case TermStateKind.DistinctTexts:
            {
                var column = selectColumns.Count;
                Column($"count(DISTINCT {rows.Text(syntax.Argument)})", "::float8");
                return new KpiSqlPlan.TermColumns(-1, column);
            }

            default:
            {
                var column = selectColumns.Count;
                Column($"count(DISTINCT {rows.Number(syntax.Argument)})", "::float8");
                return new KpiSqlPlan.TermColumns(-1, column);
            }
        }
    }

    public static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <summary>SQL for the expressions inside one aggregate, over the row alias <c>t</c> of one object model's table.</summary>
    private sealed class RowSql(ObjectModelDefinition model, List<object> parameters)
    {
        private string Parameter(object value)
        {
            parameters.Add(value);
            return $"${parameters.Count + FixedParameters}";
        }

        private FieldDefinition Field(FieldReference field) =>
            string.Equals(field.ObjectModel, model.Code, StringComparison.Ordinal) && model.FindField(field.Field) is { } definition
                ? definition
                : throw new InvalidOperationException($"'{field.ObjectModel}.{field.Field}' is not a field of '{model.Code}'");

        private string Column(FieldReference field) => $"t.{Quote(Field(field).Name)}";

        /// <summary>The formula type of a node, inferred as the binder does (the formula has already bound).</summary>
        public FormulaType TypeOf(FormulaNode node) => node switch
        {
            NumberLiteral => FormulaType.Number,
            StringLiteral => FormulaType.Text,
            BooleanLiteral => FormulaType.Boolean,
            FieldReference field => Field(field).Type switch
            {
                FieldType.Number or FieldType.Integer => FormulaType.Number,
                FieldType.Boolean => FormulaType.Boolean,
                FieldType.Text => FormulaType.Text,
                _ => FormulaType.Timestamp,
            },
            ObjectReference => FormulaType.Object,
            UnaryExpression { Operator: UnaryOperator.Not } => FormulaType.Boolean,
            BinaryExpression { Operator: BinaryOperator.Add or BinaryOperator.Subtract or BinaryOperator.Multiply or BinaryOperator.Divide } => FormulaType.Number,
            BinaryExpression or InExpression or IsNullExpression => FormulaType.Boolean,
            _ => FormulaType.Number,
        };

        /// <summary>A double precision expression: null where the engine's row number is NaN.</summary>
        public string Number(FormulaNode node)
        {
            switch (node)
            {
                case NumberLiteral number:
                    return Parameter(number.Value);
                case BooleanLiteral boolean:
                    return Parameter(boolean.Value ? 1.0 : 0.0);
                case FieldReference field:
                    var column = Column(field);
                    return Field(field).Type switch
                    {
                        FieldType.Number => column,
                        FieldType.Integer => $"{column}::float8",
                        FieldType.Boolean => $"{column}::int::float8",
                        // Exact: stored instants are whole milliseconds, as the engine's Unix-millisecond numbers.
                        FieldType.Timestamp => $"(extract(epoch FROM {column}) * 1000)::float8",
                        _ => throw Unexpected(node),
                    };
                case UnaryExpression { Operator: UnaryOperator.Negate } negate:
                    return $"(-{Number(negate.Operand)})";
                case BinaryExpression { Operator: BinaryOperator.Add or BinaryOperator.Subtract or BinaryOperator.Multiply } arithmetic:
                    return $"({Number(arithmetic.Left)} {Symbol(arithmetic.Operator)} {Number(arithmetic.Right)})";
                case BinaryExpression { Operator: BinaryOperator.Divide } division:
                    return $"({Number(division.Left)} / nullif({Number(division.Right)}, 0))";
                case FunctionCall call:
                    return Function(call);
                default:
                    // A condition used as a number: 1, 0 or null.
                    return $"({Predicate(node)})::int::float8";
            }
        }

        public string Text(FormulaNode node) => node switch
        {
            StringLiteral text => Parameter(text.Value),
            FieldReference field when Field(field).Type == FieldType.Text => Column(field),
            _ => throw Unexpected(node),
        };

        public string Predicate(FormulaNode node)
        {
            switch (node)
            {
                case BooleanLiteral boolean:
                    return Parameter(boolean.Value);
                case FieldReference field when Field(field).Type == FieldType.Boolean:
                    return Column(field);
                case UnaryExpression { Operator: UnaryOperator.Not } not:
                    return $"(NOT {Predicate(not.Operand)})";
                case BinaryExpression { Operator: BinaryOperator.And or BinaryOperator.Or } logical:
                    return $"({Predicate(logical.Left)} {(logical.Operator == BinaryOperator.And ? "AND" : "OR")} {Predicate(logical.Right)})";
                case BinaryExpression comparison:
                    return Comparison(comparison);
                case InExpression inList:
                    return In(inList);
                case IsNullExpression isNull:
                    var operand = isNull.Operand switch
                    {
                        FieldReference field => Column(field),
                        _ when TypeOf(isNull.Operand) == FormulaType.Text => Text(isNull.Operand),
                        _ => Number(isNull.Operand),
                    };
                    return $"({operand} IS {(isNull.Negated ? "NOT " : string.Empty)}NULL)";
                default:
                    throw Unexpected(node);
            }
        }

        private string Comparison(BinaryExpression comparison)
        {
            var op = Symbol(comparison.Operator);
            switch (TypeOf(comparison.Left))
            {
                case FormulaType.Text:
                    // The engine orders texts ordinally; the "C" collation orders by code point.
                    return $"({Text(comparison.Left)} COLLATE \"C\" {op} {Text(comparison.Right)})";
                case FormulaType.Boolean:
                    return $"({Predicate(comparison.Left)} {op} {Predicate(comparison.Right)})";
                case FormulaType.Timestamp when comparison.Left is FieldReference left && comparison.Right is FieldReference right:
                    // Same order as their milliseconds, and the columns stay plain for the planner.
                    return $"({Column(left)} {op} {Column(right)})";
                default:
                    return $"({Number(comparison.Left)} {op} {Number(comparison.Right)})";
            }
        }

        private string In(InExpression inList)
        {
            string test;
            if (TypeOf(inList.Operand) == FormulaType.Text)
            {
                var values = inList.Values.Select(v => ((StringLiteral)v).Value).ToArray();
                test = $"{Text(inList.Operand)} = ANY({Parameter(values)})";
            }
            else
            {
                var values = inList.Values.Select(v => v switch
                {
                    NumberLiteral number => number.Value,
                    BooleanLiteral boolean => boolean.Value ? 1.0 : 0.0,
                    _ => throw Unexpected(v),
                }).ToArray();
                test = $"{Number(inList.Operand)} = ANY({Parameter(values)})";
            }

            return inList.Negated ? $"(NOT ({test}))" : $"({test})";
        }

        private string Function(FunctionCall call)
        {
            var arguments = call.Arguments.Select(Number).ToArray();
            switch (call.Function)
            {
                case ScalarFunction.Abs:
                    return $"abs({arguments[0]})";
                case ScalarFunction.Coalesce:
                    return $"coalesce({string.Join(", ", arguments)})";
                case ScalarFunction.Least:
                    return $"least({string.Join(", ", arguments)})";
                case ScalarFunction.Greatest:
                    return $"greatest({string.Join(", ", arguments)})";
                default:
                {
                    // ScalarMath.Round: digits truncated and clamped to ±15; x·10^d rounded half away from zero, then
                    // divided back (for negative digits: x / 10^-d rounded, times 10^-d), with the same double steps.
                    var digits = arguments.Length > 1 ? $"least(greatest(trunc({arguments[1]}), -15), 15)" : "0::float8";
                    var x = arguments[0];
                    return $"(SELECT CASE WHEN abs(r.x) >= 1e16 AND r.d >= 0 THEN r.x " +
                           $"WHEN r.d >= 0 THEN {AwayFromZero("(r.x * power(10::float8, r.d))")} / power(10::float8, r.d) " +
                           $"ELSE {AwayFromZero("(r.x / power(10::float8, -r.d))")} * power(10::float8, -r.d) END " +
                           $"FROM (SELECT {x} AS x, {digits} AS d) AS r)";
                }
            }
        }

        private static string AwayFromZero(string value) =>
            $"(trunc({value}) + CASE WHEN abs({value} - trunc({value})) >= 0.5 THEN sign({value}) ELSE 0 END)";

        private static string Symbol(BinaryOperator op) => op switch
        {
            BinaryOperator.Add => "+",
            BinaryOperator.Subtract => "-",
            BinaryOperator.Multiply => "*",
            BinaryOperator.Divide => "/",
            BinaryOperator.Equal => "=",
            BinaryOperator.NotEqual => "<>",
            BinaryOperator.Less => "<",
            BinaryOperator.LessOrEqual => "<=",
            BinaryOperator.Greater => ">",
            BinaryOperator.GreaterOrEqual => ">=",
            _ => throw new ArgumentOutOfRangeException(nameof(op), op, null),
        };

        private static InvalidOperationException Unexpected(FormulaNode node) =>
            new($"the SQL compiler cannot translate a {node.GetType().Name} here; the binder should have refused it");
    }
}
