using AnalyticsEngine.Catalog;
using AnalyticsEngine.Ingest;
using AnalyticsEngine.Kpi.Formula;
using Npgsql;
using NpgsqlTypes;

namespace AnalyticsEngine.Governance;

/// <summary>
/// Of the rows in one bucket of the event objects a KPI reads, how many lack a value in an optional field it reads
/// (<see cref="Fields"/>, as <c>orders.carrier</c>): a filter over a missing value leaves the row out, and a sum or an
/// average goes without it, so the value says less than its event count suggests.
/// </summary>
public sealed record BucketCompleteness(long Rows, long Incomplete, IReadOnlyList<string> Fields);

/// <summary>Counts, per bucket, the rows of a KPI's event objects that lack an optional field the formula reads.</summary>
public sealed class DataCompleteness(NpgsqlDataSource dataSource, ObjectModelTables tables)
{
    /// <param name="boundaries">The buckets' boundaries in Unix ticks, as the query path cuts them.</param>
    /// <returns>By bucket start (Unix ticks), for buckets with rows; empty when the formula reads no optional field of an event object.</returns>
    public async Task<IReadOnlyDictionary<long, BucketCompleteness>> ReadAsync(
        string clientId, CompiledFormula formula, long[] boundaries, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(formula);
        ArgumentNullException.ThrowIfNull(boundaries);
        var counts = new Dictionary<long, (long Rows, long Incomplete)>();
        var fields = new List<string>();
        foreach (var (objectModel, used) in FieldUsage.Of(formula.Syntax).OrderBy(u => u.Key, StringComparer.Ordinal))
        {
            var model = BuiltInCatalog.ObjectModelsByCode[objectModel];
            // Required fields are never missing (ingest refuses a row without them); a snapshot is its records' latest state.
            var optional = used.Where(f => model.FindField(f) is { Required: false } && f != model.EventTimeField).ToList();
            if (model.Kind != ObjectKind.Event || optional.Count == 0)
            {
                continue;
            }

            fields.AddRange(optional.Select(f => $"{objectModel}.{f}"));
            var table = tables.Get(objectModel);
            var time = table.EventTimeColumn;
            await using var command = dataSource.CreateCommand(
                $"""
                SELECT width_bucket({time}, $2) AS bucket, count(*),
                       count(*) FILTER (WHERE {string.Join(" OR ", optional.Select(f => ObjectModelTable.Quote(f) + " IS NULL"))})
                  FROM {table.QualifiedName}
                 WHERE client_id = $1 AND {time} >= $3 AND {time} < $4
                 GROUP BY bucket
                """);
            command.Parameters.AddWithValue(clientId);
            command.Parameters.Add(new NpgsqlParameter<DateTime[]>
            {
                TypedValue = [.. boundaries.Select(Query.KpiSqlPlan.Instant)],
                NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz,
            });
            command.Parameters.Add(Query.KpiSqlPlan.InstantParameter(Query.KpiSqlPlan.Instant(boundaries[0])));
            command.Parameters.Add(Query.KpiSqlPlan.InstantParameter(Query.KpiSqlPlan.Instant(boundaries[^1])));
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var start = boundaries[reader.GetInt32(0) - 1];
                var (rows, incomplete) = counts.GetValueOrDefault(start);
                counts[start] = (rows + reader.GetInt64(1), incomplete + reader.GetInt64(2));
            }
        }

        return counts.ToDictionary(c => c.Key, c => new BucketCompleteness(c.Value.Rows, c.Value.Incomplete, fields));
    }
}
