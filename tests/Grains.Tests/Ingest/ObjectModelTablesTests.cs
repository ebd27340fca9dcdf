using AnalyticsEngine.Ingest;
using Npgsql;

namespace AnalyticsEngine.Grains.Tests.Ingest;

public sealed class ObjectModelTablesTests
{
    [Fact]
    public async Task Silos_starting_together_on_an_empty_database_all_find_the_tables()
    {
        var name = $"ae_tables_{Guid.NewGuid():N}";
        await using (var create = TestDatabase.DataSource.CreateCommand($"CREATE DATABASE {name}"))
        {
            await create.ExecuteNonQueryAsync();
        }

        try
        {
            var scratch = new NpgsqlConnectionStringBuilder(TestDatabase.ConnectionString) { Database = name, Pooling = false };
            var silos = Enumerable.Range(0, 4).Select(_ => NpgsqlDataSource.Create(scratch.ConnectionString)).ToList();
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
        }
        finally
        {
            await using var drop = TestDatabase.DataSource.CreateCommand($"DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            await drop.ExecuteNonQueryAsync();
        }
    }
}
