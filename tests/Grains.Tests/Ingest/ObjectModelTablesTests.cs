using AnalyticsEngine.Ingest;
using Npgsql;

namespace AnalyticsEngine.Grains.Tests.Ingest;

public sealed class ObjectModelTablesTests
{
    [Fact]
    public async Task Silos_starting_together_on_an_empty_database_all_find_the_tables() =>
        await InScratchDatabaseAsync(async connectionString =>
        {
            var silos = Enumerable.Range(0, 4).Select(_ => NpgsqlDataSource.Create(connectionString)).ToList();
            try
            {
                await Task.WhenAll(silos.Select(s => ObjectModelTables.BuiltIn.EnsureCreatedAsync(s, CancellationToken.None)));

                await using var check = silos[0].CreateCommand("SELECT count(*) FROM unnest($1::text[]) AS t WHERE to_regclass(t) IS NOT NULL");
                var tables = ObjectModelTables.BuiltIn.All.Select(t => t.QualifiedName).ToArray();
                check.Parameters.AddWithValue(tables);
                Assert.Equal(tables.Length, (long)(await check.ExecuteScalarAsync())!);
            }
            finally
            {
                foreach (var silo in silos)
                {
                    await silo.DisposeAsync();
                }
            }
        });

    [Fact]
    public async Task A_start_over_existing_tables_does_not_wait_for_ingest_in_flight() =>
        await InScratchDatabaseAsync(async connectionString =>
        {
            await using var database = NpgsqlDataSource.Create(connectionString);
            await ObjectModelTables.BuiltIn.EnsureCreatedAsync(database, CancellationToken.None);

            // An ingest transaction still open on a table, as a COPY in flight is.
            await using var ingest = await database.OpenConnectionAsync();
            await using var transaction = await ingest.BeginTransactionAsync();
            await using (var insert = new NpgsqlCommand(
                             """
                             INSERT INTO scor_data.orders (client_id, sequence, order_id, ordered_at, order_value, promised_at,
                                                           on_time, in_full, damage_free, documentation_complete, status)
                             VALUES ('busy', 1, 'o-1', now(), 10, now(), true, true, true, true, 'delivered')
                             """, ingest, transaction))
            {
                await insert.ExecuteNonQueryAsync();
            }

            // The DDL's share lock would wait for that transaction until cancelled; the catalogs alone do not.
            using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await ObjectModelTables.BuiltIn.EnsureCreatedAsync(database, patience.Token);

            await transaction.RollbackAsync();
        });

    /// <summary>Runs <paramref name="test"/> against a database of its own, created empty and dropped after.</summary>
    private static async Task InScratchDatabaseAsync(Func<string, Task> test)
    {
        var name = $"ae_tables_{Guid.NewGuid():N}";
        await using (var create = TestDatabase.DataSource.CreateCommand($"CREATE DATABASE {name}"))
        {
            await create.ExecuteNonQueryAsync();
        }

        try
        {
            await test(new NpgsqlConnectionStringBuilder(TestDatabase.ConnectionString) { Database = name, Pooling = false }.ConnectionString);
        }
        finally
        {
            await using var drop = TestDatabase.DataSource.CreateCommand($"DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            await drop.ExecuteNonQueryAsync();
        }
    }
}
