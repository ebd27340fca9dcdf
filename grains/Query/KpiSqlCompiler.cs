using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
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
    /// <summary>A term's partial state as SQL aggregates; null where the state has no such part.</summary>
    internal readonly record struct TermStateSql(string? Sum, string? Count, string? Min, string? Max);

    public const int FixedParameters = 4;

    /// <summary>Compiles <paramref name="formula"/>; <paramref name="dimension"/> must already be validated with <see cref="DimensionProblem"/>.</summary>
    /// <param name="rollups">
    /// Where rollups may answer: an event object model whose terms are all covered reads whole slots from
    /// <c>query.term_rollups</c> (a drill-down by a dimension field from <c>query.dimension_rollups</c>) and only the
    /// edges from its table. A drill-down by another field reads raw rows.
    /// </param>
    /// <param name="rawSlotMinutes">
    /// A slot length that divides every bucket boundary (<see cref="TermRollups.SlotDividing"/>): an event object
    /// model read from raw rows whose terms add up from slots is aggregated per slot first, then per bucket.
    /// </param>
    /// <param name="doubleArithmetic">
    /// Arithmetic and sums as the engine's doubles do them, where float8's raise (<see cref="RowSql"/>); over raw rows
    /// only, as the rollups hold float8 sums.
    /// </param>
    public static KpiSqlPlan Compile(
        CompiledFormula formula, IReadOnlyDictionary<string, ObjectModelDefinition> models, string? dimension, RollupSource? rollups = null,
        int? rawSlotMinutes = null, int? rowLimit = null, bool doubleArithmetic = false)
    {
        if (doubleArithmetic && (rollups is not null || rawSlotMinutes is not null))
        {
            throw new ArgumentException("Double arithmetic reads raw rows only, added up per bucket.", nameof(doubleArithmetic));
        }

        ArgumentNullException.ThrowIfNull(formula);
        ArgumentNullException.ThrowIfNull(models);
        var parameters = new List<object>();
        var objects = formula.ObjectModels.Select(m => models[m]).ToArray();
        var grouped = dimension is not null;
        if (objects.Length == 0)
        {
            // A formula of constants reads no table: no bucket has rows.
            return new KpiSqlPlan(formula, grouped ? "SELECT NULL::int, NULL::text WHERE false" : "SELECT NULL::int WHERE false", parameters, [], grouped, [], []);
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
        var usesRollups = false;
        var rawRangeModels = new List<string>();
        var eventColumns = new int[objects.Length];
        var newestColumns = new int[objects.Length];
        for (var k = 0; k < objects.Length; k++)
        {
            var model = objects[k];
            var table = $"{Quote(model.Domain)}.{Quote(model.Code)}";
            var time = $"t.{Quote(model.EventTimeField)}";
            var rows = new RowSql(model, parameters, doubleArithmetic: doubleArithmetic);
            var dim = grouped ? $", {DimensionKey($"t.{Quote(dimension!)}")} AS \"#dim\"" : string.Empty;

            // The aggregates of this object, one SQL expression per state column.
            var aggregates = new List<string>();
            var states = new List<StateColumn>();
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
                    columns = AddState(term, rows, k, aggregates, selectColumns, states);
                    byStateKey.Add(term.StateKey, columns);
                }

                terms[a] = columns;
            }

            var aggregateList = aggregates.Count == 0 ? string.Empty : ",\n           " + string.Join(",\n           ", aggregates);
            eventColumns[k] = selectColumns.Count;
            selectColumns.Add($"d.\"#events{k}\"");
            newestColumns[k] = selectColumns.Count;
            selectColumns.Add($"d.\"#newest{k}\"");
            // Every CTE over rows `t` of the object's table computes the same columns per group: its rows, its newest
            // event time and the state columns.
            var perRow = $"count(*)::float8 AS \"#events{k}\", max({time}) AS \"#newest{k}\"{aggregateList}";
            var inRange = $"t.client_id = $1 AND {time} >= $3 AND {time} < $4";
            if (rollups is not null && rollups.Covers(formula, model, dimension))
            {
                ctes.Add(RollupCte(
                    k, model, time, table, perRow, states, rollups, RollupSource.CoverageIds(formula, model.Code, dimension), dimension, (dim, keys, groupBy), parameters));
                joined.Add($"o{k}");
                usesRollups = true;
            }
            else if (model.Kind == ObjectKind.Event && rawSlotMinutes is { } minutes && RollsUp(formula, model))
            {
                // Per slot first: the planner knows how many slots a range has (the table's statistics on the slot
                // expression, ObjectModelTable), so it splits this aggregation over parallel workers, and the second
                // one, per bucket, adds up a few thousand rows. Each slot lies inside one bucket.
                // The dimension's value is encoded for the join once per slot, not once per row.
                rawRangeModels.Add(model.Code);
                var (rawDim, slotDim) = grouped
                    ? ($", t.{Quote(dimension!)} AS \"#dim\"", $", {DimensionKey("s.\"#dim\"")} AS \"#dim\"")
                    : (string.Empty, string.Empty);
                ctes.Add(
                    $"""
                    o{k} AS (
                        SELECT width_bucket(s."#slot", $2) AS "#bucket"{slotDim},
                               sum(s."#events{k}") AS "#events{k}", max(s."#newest{k}") AS "#newest{k}"{Reaggregated(states, "s")}
                        FROM (SELECT {TermRollups.SlotStart(time, minutes)} AS "#slot"{rawDim}, {perRow}
                              FROM {table} AS t
                              WHERE {inRange}
                              {groupBy}) AS s
                        {groupBy})
                    """);
                joined.Add($"o{k}");
            }
            else if (model.Kind == ObjectKind.Event)
            {
                rawRangeModels.Add(model.Code);
                ctes.Add(
                    $"""
                    o{k} AS (
                        SELECT width_bucket({time}, $2) AS "#bucket"{dim}, {perRow}
                        FROM {table} AS t{rows.Laterals}
                        WHERE {inRange}
                        {groupBy})
                    """);
                joined.Add($"o{k}");
            }
            else
            {
                rawRangeModels.Add(model.Code);
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
                        FROM r{k} AS t CROSS JOIN LATERAL generate_series(t."#lo", least(t."#hi", array_length($2, 1) - 1)) AS g("#bucket"){rows.Laterals}
                        {groupBy})
                    """);
                ctes.Add(
                    $"""
                    n{k} AS (
                        SELECT width_bucket({time}, $2) AS "#bucket"{dim}, count(*)::float8 AS "#events{k}"
                        FROM {table} AS t
                        WHERE {inRange}
                        {groupBy})
                    """);
                joined.Add($"o{k}");
                joined.Add($"n{k}");
            }
        }

        var data = joined.Count == 1
            ? joined[0]
            : "(SELECT * FROM " + joined[0] + string.Concat(joined.Skip(1).Select(j => $" FULL JOIN {j} USING ({keys})")) + ")";
        var sql = new StringBuilder();
        sql.Append("WITH ").AppendJoin(",\n", ctes).Append('\n');
        sql.Append("SELECT ").AppendJoin(", ", selectColumns).Append('\n');
        sql.Append("FROM ").Append(data).Append(" AS d");
        if (rowLimit is { } limit)
        {
            // Each row is a distinct (bucket, dimension value): more rows than the answer may have points and it is
            // refused anyway, so PostgreSQL need not send the rest (a drill-down by an order id over a year).
            sql.Append("\nLIMIT ").Append(limit.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        return new KpiSqlPlan(formula, sql.ToString(), parameters, terms, grouped, eventColumns, newestColumns, usesRollups, rawRangeModels);
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

    private static KpiSqlPlan.TermColumns AddState(
        AggregateTerm term, RowSql rows, int k, List<string> aggregates, List<string> selectColumns, List<StateColumn> states)
    {
        string Column(string aggregate, string part)
        {
            var name = $"#s{k}_{aggregates.Count}";
            aggregates.Add($"{aggregate} AS {Quote(name)}");
            selectColumns.Add($"d.{Quote(name)}");
            states.Add(new StateColumn(Quote(name), part, term.StateKey));
            return name;
        }

        var state = StateSql(term, rows);
        var value = -1;
        if ((state.Sum ?? state.Min ?? state.Max) is { } folded)
        {
            value = selectColumns.Count;
            Column(folded, state.Sum is not null ? "sum" : state.Min is not null ? "min" : "max");
        }

        var count = -1;
        if (state.Count is { } counted)
        {
            count = selectColumns.Count;
            Column($"({counted})::float8", "count");
        }

        return new KpiSqlPlan.TermColumns(value, count);
    }

    /// <summary>One state column of an object's CTE: its quoted name, which part of the state it is, and whose.</summary>
    private sealed record StateColumn(string Name, string Part, string StateKey);

    /// <summary>
    /// An event object's CTE from rollups: whole slots from <c>query.term_rollups</c> (or, for a drill-down, from
    /// <c>query.dimension_rollups</c> of <paramref name="dimension"/>), the edges from raw rows, the same columns as
    /// the raw CTE. A slot lies inside one bucket, so its start names the bucket.
    /// </summary>
    /// <param name="grouping">The statement's drill-down column over rows <c>t</c>, its group keys and its GROUP BY.</param>
    private static string RollupCte(
        int k, ObjectModelDefinition model, string time, string table, string perRow, List<StateColumn> states,
        RollupSource rollups, long[] coverageIds, string? dimension, (string Dim, string Keys, string GroupBy) grouping, List<object> parameters)
    {
        string Parameter(object value)
        {
            parameters.Add(value);
            return $"${parameters.Count + FixedParameters}";
        }

        var ids = states.Select(s => TermRollups.IdOf(s.StateKey)).Prepend(TermRollups.EventsTerm).Distinct().ToArray();
        var rollupColumns = new StringBuilder();
        foreach (var state in states)
        {
            var id = TermRollups.IdOf(state.StateKey);
            var aggregate = state.Part switch
            {
                "count" => $"coalesce(sum(r.count) FILTER (WHERE r.term = {id}), 0)::float8",
                "sum" => $"sum(r.sum) FILTER (WHERE r.term = {id})",
                "min" => $"min(r.min) FILTER (WHERE r.term = {id})",
                _ => $"max(r.max) FILTER (WHERE r.term = {id})",
            };
            rollupColumns.Append($",\n                   {aggregate} AS {state.Name}");
        }

        var (dim, keys, groupBy) = grouping;

        // The CTE's columns over rows `t` of the object's table read by `source`, whose subquery gives each row's
        // bucket (Bucketed). Computed there, the bucket is an expression the planner has no statistics for, so it
        // expects a default number of groups; grouped by width_bucket over the table's time column, it expected one
        // per row its generic plan guessed (50,000), and sized a hash table for them that took 40 µs of a day's
        // 110 µs to build and scan, rows or none.
        string Aggregated(string source) =>
            $"""
            SELECT t."#bucket"{dim}, {perRow}
            {source}
            {groupBy}
            """;
        string Bucketed(string where) => $"SELECT width_bucket({time}, $2) AS \"#bucket\", t.* FROM {table} AS t WHERE t.client_id = $1 AND {where} OFFSET 0";

        // Every part reads through an index whatever the values of its parameters, because this statement keeps one
        // generic plan (KpiQueryRunner): each range is a LATERAL subquery, kept apart by OFFSET 0, so the range's
        // bounds stay the index condition instead of a join filter over every row of the client. Rollups are read a
        // term at a time for the same reason: with `term = ANY(...)` a generic plan may take the terms for a filter
        // and walk every term's slots of the object model (35 ms for a month in a database with the catalog's 33
        // coverages of orders, against 1.6 ms).
        string EdgeRows(string from, string to) => Aggregated(
            $"""
            FROM unnest({from}::timestamptz[], {to}::timestamptz[]) AS e(lo, hi)
            CROSS JOIN LATERAL ({Bucketed($"{time} >= e.lo AND {time} < e.hi")}) AS t
            """);

        // The ranges' slots and edges are the query's, bound with it (RangeParameter): the statement depends only on
        // whether there are edges, so one serves every range of a KPI (QueryStatements).
        var parts = new List<string>();
        if (rollups.Ranges.Raw.Count > 0)
        {
            parts.Add(EdgeRows(Parameter(RangeParameter.EdgeFrom), Parameter(RangeParameter.EdgeTo)));
        }

        var code = Parameter(model.Code);
        var terms = Parameter(ids);
        var minutes = Parameter(RangeParameter.SlotMinutes);
        var slotFrom = Parameter(RangeParameter.SlotFrom);
        var slotTo = Parameter(RangeParameter.SlotTo);
        // Rows committed after the watermark are in no slot yet: read them raw. The statement reads the watermark and
        // the partition's end itself, in its own snapshot, so that it can be written before the query has read them
        // (KpiQueryRunner sends it with the snapshot in one round trip). The sequence range is bounded on both sides
        // so that even a generic plan takes the key's index (it starts with the client and sequence): a short scan of
        // the newest rows, none once they are rolled up, then those in the slots are kept. Only while the coverages
        // the statement relies on hold, as the query checks: one written before that check and then dropped must not
        // read the rows of a partition never rolled up. Left out for a partition known to have none (its part cost a
        // sixth of a one-day statement's server time with nothing to read).
        if (rollups.ReadsAfterWatermark(model.Code))
        {
            var coverages = Parameter(coverageIds);
            parts.Add(Aggregated(
                $"""
                FROM ingest.partitions AS p
                CROSS JOIN LATERAL ({Bucketed("t.sequence > p.rolled_up_through AND t.sequence <= p.last_sequence")}) AS t
                JOIN unnest({slotFrom}::timestamptz[], {slotTo}::timestamptz[]) AS e(lo, hi) ON {time} >= e.lo AND {time} < e.hi
                WHERE p.client_id = $1 AND p.object_model = {code} AND p.rolled_up_through < p.last_sequence
                  AND (SELECT count(*) FROM query.rollup_terms AS c
                       WHERE c.client_id = $1 AND c.object_model = {code} AND c.term = ANY({coverages}::bigint[])
                         AND {TermRollups.CoversEveryRolledUpRow}) = cardinality({coverages}::bigint[])
                """));
        }

        // A dimension's rollups are keyed by its value as the drill-down joins on it (DimensionKey).
        var (rollupTable, ofDimension, value, rollupDim) = dimension is null
            ? ("query.term_rollups", string.Empty, string.Empty, string.Empty)
            : ("query.dimension_rollups", $" AND r.dimension = {Parameter(dimension)}", ", r.value", ", r.value AS \"#dim\"");
        parts.Add(
            $"""
            SELECT width_bucket(r.slot_start, $2) AS "#bucket"{rollupDim},
                   coalesce(sum(r.count) FILTER (WHERE r.term = {TermRollups.EventsTerm}), 0)::float8 AS "#events{k}",
                   to_timestamp(max(r.max) FILTER (WHERE r.term = {TermRollups.EventsTerm}) / 1000000) AS "#newest{k}"{rollupColumns}
            FROM unnest({minutes}::int[], {slotFrom}::timestamptz[], {slotTo}::timestamptz[]) AS p(minutes, lo, hi)
            CROSS JOIN unnest({terms}::bigint[]) AS k(term)
            CROSS JOIN LATERAL (
                SELECT r.term, r.slot_start{value}, r.sum, r.count, r.min, r.max FROM {rollupTable} AS r
                WHERE r.client_id = $1 AND r.object_model = {code}{ofDimension} AND r.term = k.term
                  AND r.slot_minutes = p.minutes AND r.slot_start >= p.lo AND r.slot_start < p.hi
                OFFSET 0) AS r
            {groupBy}
            """);
        return $"""
            o{k} AS (
                SELECT {keys}, sum(u."#events{k}") AS "#events{k}", max(u."#newest{k}") AS "#newest{k}"{Reaggregated(states, "u")}
                FROM ({string.Join("\n    UNION ALL\n", parts)}) AS u
                {groupBy})
            """;
    }

    /// <summary>Whether every term the formula reads from <paramref name="model"/> adds up from parts (<see cref="TermRollups.IsRollable"/>).</summary>
    internal static bool RollsUp(CompiledFormula formula, ObjectModelDefinition model) =>
        formula.Aggregates
            .Where(t => string.Equals(t.ObjectModel, model.Code, StringComparison.Ordinal))
            .All(t => TermRollups.IsRollable(t, model));

    /// <summary>The state columns again, over parts of a bucket in <paramref name="alias"/> (counts and sums add up, minima and maxima fold).</summary>
    private static string Reaggregated(List<StateColumn> states, string alias) =>
        string.Concat(states.Select(s => $", {(s.Part == "count" ? "sum" : s.Part)}({alias}.{s.Name}) AS {s.Name}"));

    /// <summary>
    /// The SQL aggregates (each with the term's <c>FILTER</c>) that compute one term's partial state over the rows
    /// <c>t</c>: sum and count, min, max, or a distinct count (as <see cref="TermStateSql.Count"/>).
    /// </summary>
    internal static TermStateSql StateSql(AggregateTerm term, RowSql rows)
    {
        var syntax = term.Syntax;
        // FILTER belongs to the aggregate call itself, so any cast goes around both.
        var predicate = syntax.Filter is null ? null : rows.Predicate(syntax.Filter);
        var filter = predicate is null ? string.Empty : $" FILTER (WHERE {predicate})";
        switch (term.StateKind)
        {
            case TermStateKind.SumCount when syntax.Argument is ObjectReference:
                return new TermStateSql(null, $"count(*){filter}", null, null);
            case TermStateKind.SumCount:
            {
                // count(text) counts present texts; any other argument is a number (booleans and conditions as 1/0).
                var isText = rows.TypeOf(syntax.Argument) == FormulaType.Text;
                var value = isText ? rows.Text(syntax.Argument) : rows.Number(syntax.Argument);
                var sum = isText ? null : rows.DoubleArithmetic ? SumThatCannotOverflow(value, predicate) : $"sum({value}){filter}";
                return new TermStateSql(sum, $"count({value}){filter}", null, null);
            }

            case TermStateKind.Min:
                return new TermStateSql(null, null, $"min({rows.Number(syntax.Argument)}){filter}", null);
            case TermStateKind.Max:
                return new TermStateSql(null, null, null, $"max({rows.Number(syntax.Argument)}){filter}");
            case TermStateKind.DistinctTexts:
                return new TermStateSql(null, $"count(DISTINCT {rows.Text(syntax.Argument)}){filter}", null, null);
            default:
                return new TermStateSql(null, $"count(DISTINCT {rows.Number(syntax.Argument)}){filter}", null, null);
        }
    }

    /// <summary>
    /// The sum of <paramref name="value"/> over the rows where <paramref name="predicate"/> holds, infinite past
    /// float8's range rather than raising (sql/0014 <c>query.dtotal</c>): values of at least 2^-900 in size added up
    /// scaled by 2^-100, which float8's sum does exactly as it would unscaled, and smaller ones apart.
    /// </summary>
    private static string SumThatCannotOverflow(string value, string? predicate)
    {
        const string Smallest = "1.1830521861667747e-271"; // 2^-900
        var where = predicate is null ? string.Empty : $"({predicate}) AND ";
        return $"query.dtotal(sum({value} * 7.888609052210118e-31) FILTER (WHERE {where}abs({value}) >= {Smallest}), "
            + $"sum({value}) FILTER (WHERE {where}abs({value}) < {Smallest}))";
    }

    /// <summary>
    /// A drill-down's key for a dimension value: '=' and the value as text, or '' for no value, so that a missing
    /// value is a group of its own and the objects' CTEs join on it (NULLs would not join). The rollups per dimension
    /// value store it in this form.
    /// </summary>
    public static string DimensionKey(string value) => $"coalesce('=' || {value}::text, '')";

    public static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <summary>A text as an SQL string literal, for names from the catalog in DDL and fixed statements (values are parameters).</summary>
    public static string Literal(string text) => "'" + text.Replace("'", "''", StringComparison.Ordinal) + "'";

    /// <summary>SQL for the expressions inside one aggregate, over the row alias <c>t</c> of one object model's table.</summary>
    /// <param name="fixedParameters">How many parameters the statement numbers before the formula's literals.</param>
    /// <param name="doubleArithmetic">
    /// Arithmetic and sums as the engine's doubles do them (sql/0014: a result past float8's range is null, a total past
    /// it infinite), where PostgreSQL's float8 operators raise 22003: for a query whose statement raised so. Slower;
    /// the same results wherever float8's are within range.
    /// </param>
    internal sealed class RowSql(ObjectModelDefinition model, List<object> parameters, int fixedParameters = FixedParameters, bool doubleArithmetic = false)
    {
        // With double arithmetic, each operation's result is a column of a LATERAL subquery of its own (kept apart by
        // OFFSET 0), which the operations over it read: so every argument of the sql/0014 functions is a column or a
        // parameter, and PostgreSQL inlines them. Given an argument that is itself an expression, which the function
        // reads more than once, it calls the SQL function for every row instead: 4 times slower over 30 days of
        // orders. A term's value, which its sum reads three times, is computed once too.
        private readonly List<string> _operations = [];

        /// <summary>Whether arithmetic and sums are the engine's (see the constructor).</summary>
        public bool DoubleArithmetic => doubleArithmetic;

        /// <summary>The LATERAL subqueries the expressions read (with double arithmetic), to follow the row alias <c>t</c> in FROM.</summary>
        public string Laterals => string.Concat(_operations.Select((operation, i) => $"\n    CROSS JOIN LATERAL (SELECT {operation} AS v OFFSET 0) AS \"#x{i + 1}\""));

        private string Operation(string sql)
        {
            _operations.Add(sql);
            return $"\"#x{_operations.Count}\".v";
        }

        private string Parameter(object value)
        {
            parameters.Add(value);
            return $"${parameters.Count + fixedParameters}";
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
                case BinaryExpression { Operator: BinaryOperator.Add or BinaryOperator.Subtract or BinaryOperator.Multiply or BinaryOperator.Divide } arithmetic
                    when doubleArithmetic:
                    return Operation($"query.{DoubleFunction(arithmetic.Operator)}({Number(arithmetic.Left)}, {Number(arithmetic.Right)})");
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
                    // For negative digits, x / 10^-d can go below float8's range and the product back past it:
                    // with double arithmetic those steps are the engine's (zero, and no value).
                    var negative = doubleArithmetic
                        ? $"query.dmul({AwayFromZero("query.ddiv(r.x, power(10::float8, -r.d))")}, power(10::float8, -r.d))"
                        : $"{AwayFromZero("(r.x / power(10::float8, -r.d))")} * power(10::float8, -r.d)";
                    return $"(SELECT CASE WHEN abs(r.x) >= 1e16 AND r.d >= 0 THEN r.x " +
                           $"WHEN r.d >= 0 THEN {AwayFromZero("(r.x * power(10::float8, r.d))")} / power(10::float8, r.d) " +
                           $"ELSE {negative} END " +
                           $"FROM (SELECT {x} AS x, {digits} AS d) AS r)";
                }
            }
        }

        private static string AwayFromZero(string value) =>
            $"(trunc({value}) + CASE WHEN abs({value} - trunc({value})) >= 0.5 THEN sign({value}) ELSE 0 END)";

        private static string DoubleFunction(BinaryOperator op) => op switch
        {
            BinaryOperator.Add => "dadd",
            BinaryOperator.Subtract => "dsub",
            BinaryOperator.Multiply => "dmul",
            _ => "ddiv",
        };

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

/// <summary>What rollups a query may read: the split of its buckets into slots and edges, and the terms rolled up for every row.</summary>
/// <param name="Covered">(object model, term id) pairs whose rollups hold every row of the client's partition up to its watermark.</param>
internal sealed record RollupSource(RollupRanges Ranges, IReadOnlySet<(string ObjectModel, long Term)> Covered)
{
    /// <summary>
    /// Object models whose partition holds no row after its watermark (every row rolled up): a statement over their
    /// rollups leaves out the part that reads such rows. Null: none known.
    /// </summary>
    public IReadOnlySet<string>? RolledUpToTheEnd { get; init; }

    /// <summary>Whether a statement over the rollups of <paramref name="model"/> also reads the rows after its watermark.</summary>
    public bool ReadsAfterWatermark(string model) => RolledUpToTheEnd?.Contains(model) != true;

    /// <summary>
    /// As if every term <paramref name="formula"/> reads, and the events of its object models, were rolled up for
    /// every row: the rollups a statement written before the query's snapshot is read would use (KpiQueryRunner).
    /// </summary>
    public static RollupSource AssumingCovered(RollupRanges ranges, CompiledFormula formula, string? dimension) =>
        new(ranges, formula.ObjectModels.SelectMany(model => CoverageIds(formula, model, dimension).Select(id => (model, id))).ToHashSet());

    /// <summary>
    /// The coverages rollups of <paramref name="model"/> must have for <paramref name="formula"/>: its events and
    /// every term the formula reads from it, in total or per value of <paramref name="dimension"/>.
    /// </summary>
    public static long[] CoverageIds(CompiledFormula formula, string model, string? dimension) =>
        KeptCoverageIds.GetValue(formula, static _ => new())
            .GetOrAdd((model, dimension), static (key, formula) => ComputeCoverageIds(formula, key.Model, key.Dimension), formula);

    /// <summary>
    /// <see cref="CoverageIds"/> per formula (as <see cref="QueryFormulas"/> keeps it), asked several times by every
    /// query over rollups; the arrays are shared, never changed.
    /// </summary>
    private static readonly ConditionalWeakTable<CompiledFormula, ConcurrentDictionary<(string Model, string? Dimension), long[]>> KeptCoverageIds = new();

    private static long[] ComputeCoverageIds(CompiledFormula formula, string model, string? dimension) =>
        formula.Aggregates
            .Where(t => string.Equals(t.ObjectModel, model, StringComparison.Ordinal))
            .Select(t => t.StateKey)
            .Append(TermRollups.EventsKey)
            .Select(key => TermRollups.CoverageId(key, dimension))
            .Distinct()
            .ToArray();

    /// <summary>
    /// Whether every term the formula reads from <paramref name="model"/> (and its events) can come from rollups: its
    /// rollups per slot, or per slot and value of <paramref name="dimension"/> for a drill-down by a dimension field.
    /// </summary>
    public bool Covers(CompiledFormula formula, ObjectModelDefinition model, string? dimension = null) =>
        Ranges.Slots.Count > 0
        // A field no longer marked as a dimension keeps its coverage, but its rollups stopped at that release.
        && (dimension is null || model.FindField(dimension) is { Dimension: true })
        // Rollups per dimension value are kept for fewer slot lengths (TermRollups.SlotMinutesFor).
        && Ranges.Slots.All(s => TermRollups.SlotMinutesFor(dimension).Contains(s.Minutes))
        && KpiSqlCompiler.RollsUp(formula, model)
        && CoverageIds(formula, model.Code, dimension).All(id => Covered.Contains((model.Code, id)));
}
