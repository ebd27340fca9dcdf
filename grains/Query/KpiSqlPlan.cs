using AnalyticsEngine.Kpi;
using AnalyticsEngine.Kpi.Engine;
using AnalyticsEngine.Kpi.Formula;
using Npgsql;
using NpgsqlTypes;

namespace AnalyticsEngine.Query;

/// <summary>
/// A compiled KPI query: the SQL statement, its literal parameters, and where each aggregate's partial state sits
/// in the result. <see cref="ReadAsync"/> turns the rows into <see cref="KpiValue"/>s with the formula's own
/// evaluator, so the final arithmetic (null-safe division, no-value reasons) is the stream's.
/// </summary>
internal sealed class KpiSqlPlan(
    CompiledFormula formula,
    string sql,
    IReadOnlyList<object> parameters,
    KpiSqlPlan.TermColumns[] terms,
    bool grouped,
    int[] eventColumns,
    int[] newestColumns,
    bool usesRollups = false,
    IReadOnlyList<string>? rawRangeModels = null)
{
    /// <summary>Whether some object model is read from rollups (whole slots) and raw rows only at the edges.</summary>
    public bool UsesRollups { get; } = usesRollups;

    /// <summary>The object models whose rows are read raw over the whole range (not from rollups).</summary>
    public IReadOnlyList<string> RawRangeModels { get; } = rawRangeModels ?? [];

    /// <summary>Whether some object model's rows are read raw over the whole range (not from rollups).</summary>
    public bool ReadsRawRanges => RawRangeModels.Count > 0;

    /// <summary>Result ordinals of one aggregate's state: the value (sum, min or max) and the count (-1 when not used).</summary>
    internal readonly record struct TermColumns(int Value, int Count);

    public CompiledFormula Formula { get; } = formula;

    public string Sql { get; } = sql;

    /// <summary>The formula's literals, <c>$5</c> onwards.</summary>
    public IReadOnlyList<object> Parameters { get; } = parameters;

    public bool Grouped { get; } = grouped;

    /// <summary>
    /// Binds the fixed parameters and the literals to a command on <paramref name="connection"/>; a statement over
    /// rollups also needs the query's <paramref name="ranges"/> (<see cref="RangeParameter"/>).
    /// </summary>
    public NpgsqlCommand CreateCommand(NpgsqlConnection connection, string clientId, long[] boundaries, RollupRanges? ranges = null)
    {
        var command = new NpgsqlCommand(Sql, connection);
        Bind(command.Parameters, clientId, boundaries, ranges);
        return command;
    }

    /// <summary>The statement as one command of a batch, so it can share a round trip (e.g. with its transaction's COMMIT).</summary>
    public NpgsqlBatchCommand CreateBatchCommand(string clientId, long[] boundaries, RollupRanges? ranges = null)
    {
        var command = new NpgsqlBatchCommand(Sql);
        Bind(command.Parameters, clientId, boundaries, ranges);
        return command;
    }

    private void Bind(NpgsqlParameterCollection parameters, string clientId, long[] boundaries, RollupRanges? ranges)
    {
        parameters.Add(new NpgsqlParameter<string> { TypedValue = clientId });
        parameters.Add(InstantsParameter(boundaries));
        parameters.Add(InstantParameter(Instant(boundaries[0])));
        parameters.Add(InstantParameter(Instant(boundaries[^1])));
        foreach (var value in Parameters)
        {
            parameters.Add(value switch
            {
                RangeParameter part => RangeValue(part, ranges
                    ?? throw new InvalidOperationException("A statement over rollups is bound with the query's rollup ranges.")),
                // Typed, so that Npgsql need not find each value's type again on every run.
                string text => new NpgsqlParameter<string> { TypedValue = text },
                double number => new NpgsqlParameter<double> { TypedValue = number },
                bool boolean => new NpgsqlParameter<bool> { TypedValue = boolean },
                long[] ids => new NpgsqlParameter<long[]> { TypedValue = ids },
                string[] texts => new NpgsqlParameter<string[]> { TypedValue = texts },
                double[] numbers => new NpgsqlParameter<double[]> { TypedValue = numbers },
                _ => new NpgsqlParameter { Value = value },
            });
        }
    }

    /// <summary>The value of one part of the query's split into slots and edges.</summary>
    private static NpgsqlParameter RangeValue(RangeParameter part, RollupRanges ranges)
    {
        var slots = ranges.Slots;
        var edges = ranges.Raw;
        return part switch
        {
            RangeParameter.SlotMinutes => new NpgsqlParameter<int[]> { TypedValue = slots.Select(s => s.Minutes).ToArray() },
            RangeParameter.SlotFrom => InstantsParameter(slots.Select(s => s.From)),
            RangeParameter.SlotTo => InstantsParameter(slots.Select(s => s.To)),
            RangeParameter.EdgeFrom => InstantsParameter(edges.Select(r => r.From)),
            RangeParameter.EdgeTo => InstantsParameter(edges.Select(r => r.To)),
            _ => throw new ArgumentOutOfRangeException(nameof(part), part, null),
        };
    }

    /// <summary>A <c>timestamptz[]</c> parameter for instants in Unix ticks.</summary>
    internal static NpgsqlParameter<DateTime[]> InstantsParameter(IEnumerable<long> ticks) => new()
    {
        TypedValue = ticks.Select(Instant).ToArray(),
        NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz,
    };

    /// <summary>
    /// An instant as PostgreSQL keeps it, to the microsecond: rounded up, so that a row stored at a whole microsecond is
    /// at or after it exactly when it is at or after <paramref name="ticks"/> (a query from <c>00.0000005</c> does not
    /// count a row at <c>00.000000</c>, where Npgsql would cut the instant down to it).
    /// </summary>
    internal static DateTime Instant(long ticks)
    {
        // ticks - rest is toward zero: down for an instant after 1970, up for one before it.
        var rest = ticks % TimeSpan.TicksPerMicrosecond;
        return DateTime.UnixEpoch.AddTicks(ticks - rest + (rest > 0 ? TimeSpan.TicksPerMicrosecond : 0));
    }

    /// <summary>A <c>timestamptz</c> parameter for a UTC instant.</summary>
    internal static NpgsqlParameter<DateTime> InstantParameter(DateTime utc) =>
        new() { TypedValue = utc, NpgsqlDbType = NpgsqlDbType.TimestampTz };

    /// <summary>
    /// Reads the statement's rows (one per bucket with rows, and dimension value) and composes one dense series per
    /// dimension value, as of <paramref name="positions"/>: the sources' committed positions read in the statement's snapshot.
    /// </summary>
    public async Task<IReadOnlyList<KpiSeries>> ReadAsync(
        NpgsqlDataReader reader, QueryAnswerContext context, SourcePosition[] positions, CancellationToken cancellationToken)
    {
        var bucketCount = context.Boundaries.Length - 1;
        // Per dimension value as it travels (DecodeDimension; the empty string without a drill-down), each bucket's row.
        var byDimension = new Dictionary<string, BucketRows>(StringComparer.Ordinal);
        var width = reader.FieldCount;
        while (await reader.ReadAsync(cancellationToken))
        {
            var bucket = reader.GetInt32(0);
            if ((uint)(bucket - 1) >= (uint)bucketCount)
            {
                // Every part of the statement keeps to the range; a row outside it is a bug of the compiler's.
                throw new InvalidOperationException($"The statement of KPI '{context.KpiCode}' answered bucket {bucket} of a range of {bucketCount}.");
            }

            var dimension = Grouped ? reader.GetString(1) : string.Empty;
            var values = new double[width];
            var newestTicks = long.MinValue;
            for (var i = Grouped ? 2 : 1; i < width; i++)
            {
                if (reader.IsDBNull(i))
                {
                    values[i] = double.NaN;
                }
                else if (Array.IndexOf(newestColumns, i) >= 0)
                {
                    newestTicks = Math.Max(newestTicks, TimeTicks.Of(new DateTimeOffset(reader.GetFieldValue<DateTime>(i), TimeSpan.Zero)));
                }
                else
                {
                    values[i] = reader.GetDouble(i);
                }
            }

            if (!byDimension.TryGetValue(dimension, out var buckets))
            {
                // Refused as soon as a new dimension value makes too many points, before the rest is held in memory.
                if ((long)(byDimension.Count + 1) * bucketCount > context.MaxPoints)
                {
                    throw new TooManyPointsException(byDimension.Count + 1, bucketCount, context.MaxPoints);
                }

                byDimension.Add(dimension, buckets = new BucketRows(bucketCount));
            }

            buckets.Rows[bucket - 1] = values;
            buckets.Newest[bucket - 1] = newestTicks;
        }

        // A range without rows is one series of empty buckets; a drill-down over it has no values to group by, and a
        // series of the missing value would say there are rows without one.
        if (byDimension.Count == 0 && !Grouped)
        {
            byDimension.Add(string.Empty, new BucketRows(bucketCount));
        }

        var asOf = Formula.ObjectModels.Select(m => positions.FirstOrDefault(p => p.ObjectModel == m) ?? new SourcePosition(m, 0)).ToArray();
        var aggregates = new double[Formula.Aggregates.Count];
        var series = new List<KpiSeries>(byDimension.Count);
        // Dimension values in code-point order, the missing value last.
        foreach (var (dimension, buckets) in byDimension.OrderBy(d => d.Key.Length == 0).ThenBy(d => d.Key, StringComparer.Ordinal))
        {
            var values = new KpiValue[bucketCount];
            for (var b = 1; b <= bucketCount; b++)
            {
                var row = buckets.Rows[b - 1];
                var components = new KpiComponent[aggregates.Length];
                for (var a = 0; a < aggregates.Length; a++)
                {
                    aggregates[a] = TermResult(Formula.Aggregates[a].Function, terms[a], row);
                    components[a] = KpiComponent.Of(Formula.Aggregates[a].Name, aggregates[a]);
                }

                var (value, reason) = Formula.Evaluate(aggregates);
                long events = 0;
                if (row is not null)
                {
                    foreach (var column in eventColumns)
                    {
                        events += double.IsNaN(row[column]) ? 0 : (long)row[column];
                    }
                }

                var newestTicks = row is null ? long.MinValue : buckets.Newest[b - 1];
                var start = context.Boundaries[b - 1];
                var end = context.Boundaries[b];
                values[b - 1] = new KpiValue(
                    context.ClientId,
                    context.KpiCode,
                    context.ReportedGranularity,
                    TimeTicks.ToDateTimeOffset(start),
                    TimeTicks.ToDateTimeOffset(end),
                    value,
                    reason,
                    components,
                    Revision: 0,
                    IsFinal: context.IsFinal(end),
                    newestTicks == long.MinValue ? null : TimeTicks.ToDateTimeOffset(newestTicks),
                    asOf,
                    events);
            }

            series.Add(new KpiSeries(Grouped ? DecodeDimension(dimension) : null, values));
        }

        return series;
    }

    /// <summary>An aggregate's value from its partial state, as <c>TermAccumulator.Result</c> answers it in the engine.</summary>
    private static double TermResult(AggregateFunction function, TermColumns columns, double[]? row)
    {
        var count = row is null || columns.Count < 0 || double.IsNaN(row[columns.Count]) ? 0 : row[columns.Count];
        var value = row is null || columns.Value < 0 ? double.NaN : row[columns.Value];
        return function switch
        {
            AggregateFunction.Sum => count > 0 ? value : double.NaN,
            AggregateFunction.Avg => count > 0 ? value / count : double.NaN,
            AggregateFunction.Count or AggregateFunction.CountDistinct => count,
            _ => value,
        };
    }

    /// <summary>One dimension value's rows by bucket (null where the bucket has none) and their newest event times.</summary>
    private sealed class BucketRows(int buckets)
    {
        public double[]?[] Rows { get; } = new double[]?[buckets];

        public long[] Newest { get; } = new long[buckets];
    }

    /// <summary>Dimension values travel as <c>'=' || value</c>, and null as the empty string, so full joins can match nulls.</summary>
    private static string? DecodeDimension(string encoded) => encoded.Length == 0 ? null : encoded[1..];
}

/// <summary>
/// A parameter of a statement over rollups that is the query's rather than the formula's: one part of the split of its
/// range into slots and edges (<see cref="RollupRanges"/>). A plan keeps these in place of the values, so that one plan
/// serves every range (<see cref="QueryStatements"/>); binding fills them in.
/// </summary>
internal enum RangeParameter
{
    EdgeFrom,
    EdgeTo,
    SlotMinutes,
    SlotFrom,
    SlotTo,
}

/// <summary>What <see cref="KpiSqlPlan.ReadAsync"/> needs besides the rows.</summary>
internal sealed record QueryAnswerContext(
    string ClientId,
    string KpiCode,
    Granularity ReportedGranularity,
    long[] Boundaries,
    long NowTicks,
    long LatenessTicks,
    int MaxPoints)
{
    /// <summary>Whether a bucket ending at <paramref name="endTicks"/> is final now: as the stream says, once its lateness has passed.</summary>
    public bool IsFinal(long endTicks) => endTicks + LatenessTicks <= NowTicks;
}

/// <summary>A drill-down whose values times buckets exceed the point limit.</summary>
internal sealed class TooManyPointsException(int dimensionValues, int buckets, int maxPoints)
    : Exception($"the drill-down has at least {dimensionValues} values × {buckets} buckets = {(long)dimensionValues * buckets} points; at most {maxPoints} are allowed");
