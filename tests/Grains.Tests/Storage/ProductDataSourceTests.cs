using AnalyticsEngine.Silo;
using Npgsql;

namespace AnalyticsEngine.Grains.Tests.Storage;

/// <summary>
/// The silo's data source hands a pooled connection out again without resetting it; what the grains rely on after
/// that still holds: a transaction left open, and its settings, end when the connection goes back.
/// </summary>
public sealed class ProductDataSourceTests
{
    // One connection in the pool, so that the second open gets the first one's backend.
    private static NpgsqlDataSource OneConnection() =>
        SiloHosting.CreateDataSource(TestDatabase.ConnectionString + ";Maximum Pool Size=1");

    private static async Task<string> ScalarAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToString(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture)!;
    }

    [Fact]
    public async Task A_connection_returned_mid_transaction_comes_back_without_the_transaction_or_its_settings()
    {
        await TestDatabase.EnsureMigratedAsync();
        await using var dataSource = OneConnection();
        string backend;
        await using (var connection = await dataSource.OpenConnectionAsync())
        {
            backend = await ScalarAsync(connection, "SELECT pg_backend_pid()");
            await using var batch = new NpgsqlBatch(connection)
            {
                BatchCommands =
                {
                    new NpgsqlBatchCommand("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"),
                    new NpgsqlBatchCommand("SET LOCAL statement_timeout = 4321"),
                },
            };
            await batch.ExecuteNonQueryAsync();
            Assert.Equal("4321ms", await ScalarAsync(connection, "SHOW statement_timeout"));
        }

        await using var again = await dataSource.OpenConnectionAsync();
        Assert.Equal(backend, await ScalarAsync(again, "SELECT pg_backend_pid()"));
        Assert.NotEqual("4321ms", await ScalarAsync(again, "SHOW statement_timeout"));
        Assert.Equal("read committed", await ScalarAsync(again, "SHOW transaction_isolation"));
    }

    [Fact]
    public async Task A_connection_is_not_reset_when_the_pool_takes_it_back()
    {
        await TestDatabase.EnsureMigratedAsync();
        await using var dataSource = OneConnection();
        await using (var connection = await dataSource.OpenConnectionAsync())
        {
            await ScalarAsync(connection, "SELECT set_config('application_name', 'kept across uses', false)");
        }

        // A reset (RESET ALL) would have put the name back; grains never set anything for the session, so nothing
        // else can carry over.
        await using var again = await dataSource.OpenConnectionAsync();
        Assert.Equal("kept across uses", await ScalarAsync(again, "SHOW application_name"));
    }
}
