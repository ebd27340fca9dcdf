using System.Text.Json;
using AnalyticsEngine.Catalog;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Ingest;
using AnalyticsEngine.Query;
using Npgsql;

namespace AnalyticsEngine.Grains.Tests.Query;

/// <summary>
/// A statement over raw rows adds them up per time slot before per bucket, so that PostgreSQL can split the work over
/// parallel workers; it does so only when it knows that a slot holds many rows, which the statistics the object-model
/// tables declare on the slot expression tell it. They count only for the very expression the statement groups by.
/// </summary>
public sealed class RawSlotStatisticsTests
{
    private const int Days = 100;
    private const int RowsPerHour = 40;

    [Fact]
    public async Task The_planner_counts_the_slots_of_a_raw_statement_from_the_tables_statistics_and_takes_each_row_for_a_slot_without_them()
    {
        var name = $"ae_slots_{Guid.NewGuid():N}";
        await ExecuteAsync(TestDatabase.DataSource, $"CREATE DATABASE {name}");
        try
        {
            var scratch = new NpgsqlConnectionStringBuilder(TestDatabase.ConnectionString) { Database = name, Pooling = false };
            await using var database = NpgsqlDataSource.Create(scratch.ConnectionString);
            await ObjectModelTables.BuiltIn.EnsureCreatedAsync(database, CancellationToken.None);
            await ObjectModelTables.BuiltIn.EnsureCreatedAsync(database, CancellationToken.None); // as every silo start does
            await using (var targets = database.CreateCommand(
                "SELECT stxname, stxstattarget FROM pg_statistic_ext WHERE stxnamespace = 'scor_data'::regnamespace AND stxname LIKE 'orders_slots_%' ORDER BY 1"))
            await using (var reader = await targets.ExecuteReaderAsync())
            {
                var found = new List<string>();
                while (await reader.ReadAsync())
                {
                    found.Add($"{reader.GetString(0)}={Convert.ToInt32(reader.GetValue(1), System.Globalization.CultureInfo.InvariantCulture)}");
                }

                Assert.Equal(["orders_slots_15=1000", "orders_slots_60=1000"], found);
            }

            var end = new DateTimeOffset(2026, 6, 1, 0, 0, 0, TimeSpan.Zero);
            await ExecuteAsync(database,
                $"""
                INSERT INTO scor_data.orders (client_id, sequence, order_id, ordered_at, order_value, promised_at,
                                              on_time, in_full, damage_free, documentation_complete, status)
                SELECT 'slots', i, 'o-' || i, timestamptz '{end.AddDays(-Days):O}' + i * interval '{3600 / RowsPerHour} seconds', 10,
                       timestamptz '{end:O}', i % 7 <> 0, true, true, true, 'delivered'
                FROM generate_series(0, {Days * 24 * RowsPerHour - 1}) AS i
                """);
            await ExecuteAsync(database, "ANALYZE scor_data.orders");

            // A hundred days in UTC: every boundary is a whole hour, so the rows are added up per hour first.
            var config = new ClientConfig("slots", "Slots", "UTC", ["POF"], [], [], 0);
            var prepared = KpiQueryRunner.Prepare(new KpiQuery("slots", "POF", end.AddDays(-Days), end, QueryGranularity.Day), config, new KpiQueryOptions());
            Assert.Equal(60, TermRollups.SlotDividing(prepared.Boundaries!));
            var plan = KpiSqlCompiler.Compile(prepared.Formula!, BuiltInCatalog.ObjectModelsByCode, null, rawSlotMinutes: 60);

            var slots = Days * 24;
            var withStatistics = await EstimatedSlotsAsync(database, plan, prepared.Boundaries!);
            Assert.InRange(withStatistics, slots / 2, slots * 2);

            await ExecuteAsync(database, "DROP STATISTICS scor_data.orders_slots_60");
            await ExecuteAsync(database, "ANALYZE scor_data.orders");
            var without = await EstimatedSlotsAsync(database, plan, prepared.Boundaries!);
            Assert.True(without > slots * 10, $"without the statistics the planner estimated {without} slots (of {slots})");
        }
        finally
        {
            await ExecuteAsync(TestDatabase.DataSource, $"DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        }
    }

    /// <summary>The planner's estimate of the slots the statement groups raw rows into (its largest, over partial and final aggregation).</summary>
    private static async Task<double> EstimatedSlotsAsync(NpgsqlDataSource database, KpiSqlPlan plan, long[] boundaries)
    {
        await using var connection = await database.OpenConnectionAsync();
        await using var explain = plan.CreateCommand(connection, "slots", boundaries);
        explain.CommandText = "EXPLAIN (FORMAT JSON) " + explain.CommandText;
        using var document = JsonDocument.Parse((string)(await explain.ExecuteScalarAsync())!);
        var estimates = new List<double>();
        Collect(document.RootElement[0].GetProperty("Plan"), estimates);
        Assert.NotEmpty(estimates);
        return estimates.Max();
    }

    private static void Collect(JsonElement node, List<double> estimates)
    {
        if (node.TryGetProperty("Group Key", out var keys) && keys.EnumerateArray().Any(k => k.GetString()!.Contains("date_bin", StringComparison.Ordinal)))
        {
            estimates.Add(node.GetProperty("Plan Rows").GetDouble());
        }

        if (node.TryGetProperty("Plans", out var children))
        {
            foreach (var child in children.EnumerateArray())
            {
                Collect(child, estimates);
            }
        }
    }

    private static async Task ExecuteAsync(NpgsqlDataSource database, string sql)
    {
        await using var command = database.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }
}
