using Npgsql;

namespace AnalyticsEngine.PipelineBench;

/// <summary>The benchmark's own database: created when missing, emptied before a fresh run, and its activity counters.</summary>
public static class BenchDatabase
{
    /// <summary>What a fresh run empties: the event table it writes, ingest bookkeeping, grain state and client configurations.</summary>
    private static readonly string[] FreshTables =
        ["scor_data.orders", "ingest.partitions", "ingest.idempotency_keys", "orleans.grain_state", "config.clients"];

    public static async Task EnsureAsync(BenchOptions options)
    {
        var server = new NpgsqlConnectionStringBuilder(options.Postgres) { Database = "postgres" }.ConnectionString;
        await using (var connection = new NpgsqlConnection(server))
        {
            await connection.OpenAsync();
            await using var exists = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", connection);
            exists.Parameters.AddWithValue(options.Database);
            if (await exists.ExecuteScalarAsync() is not true)
            {
                await using var create = new NpgsqlCommand($"CREATE DATABASE {Quote(options.Database)}", connection);
                await create.ExecuteNonQueryAsync();
                Console.WriteLine($"created database {options.Database}");
            }
        }

        if (!options.Fresh)
        {
            return;
        }

        await using var bench = new NpgsqlConnection(options.ConnectionString);
        await bench.OpenAsync();
        foreach (var table in FreshTables)
        {
            await using var probe = new NpgsqlCommand("SELECT to_regclass($1) IS NOT NULL", bench);
            probe.Parameters.AddWithValue(table);
            if (await probe.ExecuteScalarAsync() is true)
            {
                await using var truncate = new NpgsqlCommand($"TRUNCATE {table}", bench);
                await truncate.ExecuteNonQueryAsync();
            }
        }
    }

    /// <summary>Cumulative server-side counters of the benchmark database, to show what each phase cost PostgreSQL.</summary>
    public static async Task<DbCounters> CountersAsync(NpgsqlDataSource dataSource)
    {
        // PostgreSQL publishes a backend's statistics up to a few seconds late: the per-phase deltas are approximate.
        await using var command = dataSource.CreateCommand(
            """
            SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()),
                   coalesce((SELECT n_tup_ins + n_tup_upd FROM pg_stat_user_tables WHERE schemaname = 'orleans' AND relname = 'grain_state'), 0),
                   coalesce((SELECT n_tup_ins FROM pg_stat_user_tables WHERE schemaname = 'scor_data' AND relname = 'orders'), 0),
                   coalesce((SELECT seq_scan + idx_scan FROM pg_stat_user_tables WHERE schemaname = 'ingest' AND relname = 'partitions'), 0)
            """);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return new DbCounters(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3));
    }

    private static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}

/// <summary>Transactions committed, grain-state rows written (checkpoints), order rows inserted, reads of ingest.partitions.</summary>
public sealed record DbCounters(long Commits, long StateWrites, long OrderRows, long PartitionReads)
{
    public static DbCounters operator -(DbCounters a, DbCounters b) =>
        new(a.Commits - b.Commits, a.StateWrites - b.StateWrites, a.OrderRows - b.OrderRows, a.PartitionReads - b.PartitionReads);
}
