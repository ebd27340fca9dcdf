using AnalyticsEngine.Silo.Storage;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace AnalyticsEngine.Grains.Tests.Storage;

public sealed class SchemaMigratorTests
{
    private static async Task<Dictionary<string, (string Checksum, DateTime AppliedAt)>> HistoryAsync()
    {
        await using var command = TestDatabase.DataSource.CreateCommand(
            $"SELECT name, checksum, applied_at FROM {SchemaMigrator.HistoryTable}");
        await using var reader = await command.ExecuteReaderAsync();
        var history = new Dictionary<string, (string, DateTime)>(StringComparer.Ordinal);
        while (await reader.ReadAsync())
        {
            history[reader.GetString(0)] = (reader.GetString(1), reader.GetDateTime(2));
        }

        return history;
    }

    private static async Task<T> ScalarAsync<T>(string sql)
    {
        await using var command = TestDatabase.DataSource.CreateCommand(sql);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public void The_migrations_are_embedded_in_name_order()
    {
        var names = SchemaMigrator.Migrations.Select(m => m.Name).ToList();

        Assert.Contains("0001_orleans_persistence.sql", names);
        Assert.Contains("0002_orleans_reminders.sql", names);
        Assert.Contains("0003_ingest.sql", names);
        Assert.Contains("0004_config.sql", names);
        Assert.Equal(names.Order(StringComparer.Ordinal), names);
    }

    [Fact]
    public async Task Applying_again_is_a_no_op()
    {
        await TestDatabase.EnsureMigratedAsync();
        var before = await HistoryAsync();

        await SchemaMigrator.ApplyAsync(TestDatabase.ConnectionString, NullLogger.Instance, CancellationToken.None);

        var after = await HistoryAsync();
        foreach (var migration in SchemaMigrator.Migrations)
        {
            Assert.Equal((migration.Checksum, before[migration.Name].AppliedAt), after[migration.Name]);
        }
    }

    [Fact]
    public async Task The_tables_the_providers_and_the_product_need_exist()
    {
        await TestDatabase.EnsureMigratedAsync();

        foreach (var table in new[]
                 {
                     "public.orleansquery", "orleans.grain_state", "orleans.reminders",
                     "ingest.partitions", "ingest.idempotency_keys", "config.clients", SchemaMigrator.HistoryTable,
                 })
        {
            Assert.True(await ScalarAsync<bool>($"SELECT to_regclass('{table}') IS NOT NULL"), $"{table} is missing");
        }

        var keys = await ScalarAsync<string[]>("SELECT array_agg(querykey ORDER BY querykey) FROM orleansquery");
        Assert.Superset(
            new HashSet<string>
            {
                "ReadFromStorageKey", "WriteToStorageKey", "ClearStorageKey", "DeleteStorageKey",
                "ReadReminderRowsKey", "ReadReminderRowKey", "ReadRangeRows1Key", "ReadRangeRows2Key",
                "UpsertReminderRowKey", "DeleteReminderRowKey", "DeleteReminderRowsKey",
            },
            keys.ToHashSet());
    }

    [Fact]
    public async Task Silos_starting_together_all_succeed()
    {
        await TestDatabase.EnsureMigratedAsync();

        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ =>
            SchemaMigrator.ApplyAsync(TestDatabase.ConnectionString, NullLogger.Instance, CancellationToken.None)));

        Assert.Equal(SchemaMigrator.Migrations.Count,
            (await HistoryAsync()).Keys.Count(k => SchemaMigrator.Migrations.Any(m => m.Name == k)));
    }

    [Fact]
    public async Task A_migration_that_differs_from_the_applied_one_is_not_applied_again()
    {
        // Another release's version of the file, as in a rolling update or a rollback: applying it would overwrite
        // what that release applied, and its next silo start would overwrite this one's.
        await TestDatabase.EnsureMigratedAsync();
        var last = SchemaMigrator.Migrations[^1];
        await using (var tamper = TestDatabase.DataSource.CreateCommand(
                         $"UPDATE {SchemaMigrator.HistoryTable} SET checksum = 'other release' WHERE name = $1"))
        {
            tamper.Parameters.AddWithValue(last.Name);
            await tamper.ExecuteNonQueryAsync();
        }

        var before = (await HistoryAsync())[last.Name];
        try
        {
            await SchemaMigrator.ApplyAsync(TestDatabase.ConnectionString, NullLogger.Instance, CancellationToken.None);

            Assert.Equal(before, (await HistoryAsync())[last.Name]);
        }
        finally
        {
            await using var restore = TestDatabase.DataSource.CreateCommand($"UPDATE {SchemaMigrator.HistoryTable} SET checksum = $2 WHERE name = $1");
            restore.Parameters.AddWithValue(last.Name);
            restore.Parameters.AddWithValue(last.Checksum);
            await restore.ExecuteNonQueryAsync();
        }
    }

    [Fact]
    public async Task Every_migration_can_run_again_over_itself()
    {
        await TestDatabase.EnsureMigratedAsync();
        await using var connection = await TestDatabase.DataSource.OpenConnectionAsync();

        foreach (var migration in SchemaMigrator.Migrations)
        {
            // Rolled back: proves the file is idempotent without touching what other tests use.
            await using var transaction = await connection.BeginTransactionAsync();
            await using (var command = new NpgsqlCommand(migration.Sql, connection, transaction))
            {
                await command.ExecuteNonQueryAsync();
            }

            await transaction.RollbackAsync();
        }
    }

    [Fact]
    public async Task TimescaleDB_detection_agrees_with_the_database()
    {
        await TestDatabase.EnsureMigratedAsync();

        var expected = await ScalarAsync<bool>("SELECT public.ae_has_timescaledb()");

        Assert.Equal(expected, await SchemaMigrator.HasTimescaleDbAsync(TestDatabase.DataSource));
        Assert.Equal(expected, await SchemaMigrator.HasTimescaleDbAsync(TestDatabase.ConnectionString));
    }

    [Fact]
    public async Task An_empty_database_is_migrated_once_by_silos_starting_together()
    {
        var name = "ae_migration_test_" + Guid.NewGuid().ToString("N");
        await ExecuteAsync(TestDatabase.DataSource, $"CREATE DATABASE {name}");
        try
        {
            var connectionString = new NpgsqlConnectionStringBuilder(TestDatabase.ConnectionString)
            {
                Database = name,
                Pooling = false, // so that DROP DATABASE finds no idle pooled sessions
            }.ConnectionString;

            await Task.WhenAll(Enumerable.Range(0, 3).Select(_ =>
                SchemaMigrator.ApplyAsync(connectionString, NullLogger.Instance, CancellationToken.None)));

            await using var fresh = NpgsqlDataSource.Create(connectionString);
            await using var command = fresh.CreateCommand(
                $"SELECT array_agg(name ORDER BY name) FROM {SchemaMigrator.HistoryTable}");
            var applied = (string[])(await command.ExecuteScalarAsync())!;
            Assert.Equal(SchemaMigrator.Migrations.Select(m => m.Name), applied);
        }
        finally
        {
            await ExecuteAsync(TestDatabase.DataSource, $"DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        }
    }

    private static async Task ExecuteAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }
}
