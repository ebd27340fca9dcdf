using System.Text.Json;
using AnalyticsEngine.Catalog;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Query;
using Npgsql;

namespace AnalyticsEngine.Grains.Tests.Query;

/// <summary>
/// A statement served by rollups runs on one generic plan (KpiQueryRunner), which cannot see the range in its
/// parameters; so the statement is written for every part to be read through an index range whatever they are: the
/// rollups of the range's slots, the raw rows of its edges and the newest rows after the watermark. A generic plan of
/// a plain join read every rollup of the client, 20–40 ms for a day that takes 0.2 ms.
/// </summary>
[Collection(KpiClusterCollection.Name)]
public sealed class RollupGenericPlanTests(KpiClusterFixture fixture)
{
    private const int Rows = 40_000;
    private const int Unrolled = 50;

    [Theory]
    [InlineData(null, "term_rollups")]
    [InlineData("carrier", "dimension_rollups")] // a drill-down by a dimension field
    public async Task The_generic_plan_of_a_rollup_statement_reads_every_part_through_an_index_range(string? dimension, string rollupTable)
    {
        var clientId = "gp-" + Guid.NewGuid().ToString("N")[..10];
        var now = DateTimeOffset.UtcNow;
        var end = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, 0, 0, TimeSpan.Zero);
        await LoadAsync(clientId, end);

        // One day as one bucket from seven minutes past an hour: a raw edge, whole slots, and rows after the watermark.
        var config = new ClientConfig(clientId, "Generic plan", "UTC", ["POF"], [], [], 0);
        var prepared = KpiQueryRunner.Prepare(
            new KpiQuery(clientId, "POF", end.AddDays(-1).AddMinutes(7), end, QueryGranularity.Range, dimension), config, new KpiQueryOptions());
        var rollups = TermRollups.ForCatalog["orders"];
        var covered = rollups.TermIds.Keys.Append(TermRollups.EventsKey).Select(k => ("orders", TermRollups.CoverageId(k, dimension))).ToHashSet();
        var ranges = RollupRanges.Split(prepared.Boundaries!, TermRollups.SlotMinutesFor(dimension));
        Assert.NotEmpty(ranges.Raw);
        var plan = KpiSqlCompiler.Compile(prepared.Formula!, BuiltInCatalog.ObjectModelsByCode, dimension,
            new RollupSource(ranges, covered));
        Assert.True(plan.UsesRollups);
        Assert.False(plan.ReadsRawRanges);

        var scans = await GenericPlanScansAsync(plan);

        Assert.DoesNotContain(scans, s => s.Type == "Seq Scan" && (s.Relation == "orders" || s.Relation == rollupTable));
        var rollupScans = scans.Where(s => s.Index == rollupTable + "_pkey").ToList();
        Assert.NotEmpty(rollupScans);
        Assert.All(rollupScans, s => Assert.Contains("slot_start >=", s.Condition));
        // The orders' index scans: the edges by time, the newest rows by sequence, and the snapshot's last sequence
        // (one backward probe of the key).
        var orderScans = scans.Where(s => s.Index is "orders_pkey" or "orders_client_time").ToList();
        Assert.Contains(orderScans, s => s.Condition.Contains("ordered_at >=", StringComparison.Ordinal));
        Assert.Contains(orderScans, s => s.Condition.Contains("sequence >", StringComparison.Ordinal));
        Assert.All(orderScans, s => Assert.True(
            s.Condition.Contains("ordered_at >=", StringComparison.Ordinal) || s.Condition.Contains("sequence >", StringComparison.Ordinal) || s.Backward,
            $"{s.Type} on {s.Index}: {s.Condition}"));
    }

    /// <summary>Orders every 432 s for 200 days up to <paramref name="end"/>, rolled up but for the newest <see cref="Unrolled"/>.</summary>
    private async Task LoadAsync(string clientId, DateTimeOffset end)
    {
        await ExecuteAsync(
            """
            INSERT INTO scor_data.orders (client_id, sequence, order_id, ordered_at, order_value, promised_at,
                                          on_time, in_full, damage_free, documentation_complete, status)
            SELECT $1, i, 'gp-' || i, $2 - ($3 - i) * interval '432 seconds', 10, $2 + interval '2 days',
                   i % 7 <> 0, true, true, i % 11 <> 0, 'delivered'
            FROM generate_series(1, $3) AS i
            """, clientId, end.UtcDateTime, Rows);
        // Rolled up through the partition's end at the time, as the ingest grain would have; then more rows committed.
        await SetPartitionEndAsync(clientId, Rows - Unrolled);
        await TermRollups.ForCatalog["orders"].RebuildAsync(fixture.Database, clientId, TermRollups.EveryRow, CancellationToken.None);
        await SetPartitionEndAsync(clientId, Rows);
        await ExecuteAsync("ANALYZE scor_data.orders");
        await ExecuteAsync("ANALYZE query.term_rollups");
        await ExecuteAsync("ANALYZE query.dimension_rollups");
    }

    private Task SetPartitionEndAsync(string clientId, long end) => ExecuteAsync(
        """
        INSERT INTO ingest.partitions (client_id, object_model, last_sequence) VALUES ($1, 'orders', $2)
        ON CONFLICT (client_id, object_model) DO UPDATE SET last_sequence = excluded.last_sequence
        """, clientId, end);

    /// <summary>
    /// The scans of the statement's generic plan: prepared with its parameters' types and explained under
    /// <c>force_generic_plan</c> (PostgreSQL 15 has no EXPLAIN (GENERIC_PLAN)).
    /// </summary>
    private async Task<List<Scan>> GenericPlanScansAsync(KpiSqlPlan plan)
    {
        var types = new[] { "text", "timestamptz[]", "timestamptz", "timestamptz" }.Concat(plan.Parameters.Select(SqlType)).ToArray();
        await using var connection = await fixture.Database.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using (var generic = new NpgsqlCommand($"SET LOCAL plan_cache_mode = force_generic_plan; PREPARE rollup_statement ({string.Join(", ", types)}) AS {plan.Sql}", connection, transaction))
        {
            await generic.ExecuteNonQueryAsync();
        }

        // A generic plan is made without the values: nulls stand in for them.
        string json;
        await using (var explain = new NpgsqlCommand(
            $"EXPLAIN (FORMAT JSON) EXECUTE rollup_statement ({string.Join(", ", types.Select(t => $"NULL::{t}"))})", connection, transaction))
        {
            json = (string)(await explain.ExecuteScalarAsync())!;
        }

        await transaction.RollbackAsync();
        await using (var deallocate = new NpgsqlCommand("DEALLOCATE rollup_statement", connection))
        {
            await deallocate.ExecuteNonQueryAsync();
        }

        var scans = new List<Scan>();
        using var document = JsonDocument.Parse(json);
        Collect(document.RootElement[0].GetProperty("Plan"), scans);
        return scans;
    }

    private static void Collect(JsonElement node, List<Scan> scans)
    {
        string? Text(string name) => node.TryGetProperty(name, out var value) ? value.GetString() : null;
        if (Text("Relation Name") is not null || Text("Index Name") is not null)
        {
            scans.Add(new Scan(Text("Node Type")!, Text("Relation Name"), Text("Index Name"), Text("Index Cond") ?? string.Empty, Text("Scan Direction") == "Backward"));
        }

        if (node.TryGetProperty("Plans", out var children))
        {
            foreach (var child in children.EnumerateArray())
            {
                Collect(child, scans);
            }
        }
    }

    private static string SqlType(object value) => value switch
    {
        string => "text",
        double => "float8",
        long => "int8",
        int => "int4",
        bool => "bool",
        string[] => "text[]",
        double[] => "float8[]",
        long[] => "int8[]",
        int[] => "int4[]",
        DateTime[] => "timestamptz[]",
        RangeParameter.SlotMinutes => "int4[]",
        RangeParameter => "timestamptz[]",
        _ => throw new ArgumentOutOfRangeException(nameof(value), value.GetType(), "no SQL type for this parameter"),
    };

    private async Task ExecuteAsync(string sql, params object[] parameters)
    {
        await using var command = fixture.Database.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        await command.ExecuteNonQueryAsync();
    }

    private sealed record Scan(string Type, string? Relation, string? Index, string Condition, bool Backward);
}
