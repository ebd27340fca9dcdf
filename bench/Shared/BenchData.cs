using System.Globalization;
using Npgsql;
using NpgsqlTypes;

namespace AnalyticsEngine.Benchmarks;

/// <summary>Order rows for the benchmarks: random but repeatable (seed 42), evenly spread over a span, written with binary COPY.</summary>
internal static class OrderRows
{
    /// <summary>
    /// Writes <paramref name="count"/> orders of <paramref name="clientId"/> with sequences 1 through count and event
    /// times spread over the <paramref name="span"/> before <paramref name="until"/>, around the ingest path.
    /// </summary>
    public static async Task LoadAsync(NpgsqlDataSource dataSource, string clientId, int count, DateTimeOffset until, TimeSpan span)
    {
        var random = new Random(42);
        var start = (until - span).ToUnixTimeMilliseconds();
        var step = (until.ToUnixTimeMilliseconds() - start) / (double)count;
        string[] statuses = ["open", "shipped", "delivered", "cancelled"];
        string[] carriers = ["dhl", "ups", "fedex", "dpd", "gls"];
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var importer = await connection.BeginBinaryImportAsync(
            "COPY scor_data.orders (client_id, sequence, order_id, ordered_at, order_value, promised_at, delivered_at, on_time, in_full, " +
            "damage_free, documentation_complete, status, carrier) FROM STDIN (FORMAT BINARY)");
        for (var i = 0; i < count; i++)
        {
            var ordered = DateTime.UnixEpoch.AddMilliseconds(start + (long)(i * step) + random.Next((int)Math.Max(1, step)));
            await importer.StartRowAsync();
            await importer.WriteAsync(clientId, NpgsqlDbType.Text);
            await importer.WriteAsync((long)i + 1, NpgsqlDbType.Bigint);
            await importer.WriteAsync(string.Create(CultureInfo.InvariantCulture, $"b-{i}"), NpgsqlDbType.Text);
            await importer.WriteAsync(ordered, NpgsqlDbType.TimestampTz);
            await importer.WriteAsync(random.Next(0, 4000) * 0.25, NpgsqlDbType.Double);
            await importer.WriteAsync(ordered.AddDays(2), NpgsqlDbType.TimestampTz);
            if (random.Next(10) == 0)
            {
                await importer.WriteNullAsync();
            }
            else
            {
                await importer.WriteAsync(ordered.AddMinutes(random.Next(600, 4 * 1440)), NpgsqlDbType.TimestampTz);
            }

            await importer.WriteAsync(random.Next(100) < 85, NpgsqlDbType.Boolean);
            await importer.WriteAsync(random.Next(100) < 92, NpgsqlDbType.Boolean);
            await importer.WriteAsync(random.Next(100) < 97, NpgsqlDbType.Boolean);
            await importer.WriteAsync(random.Next(100) < 95, NpgsqlDbType.Boolean);
            await importer.WriteAsync(statuses[random.Next(statuses.Length)], NpgsqlDbType.Text);
            await importer.WriteAsync(carriers[random.Next(carriers.Length)], NpgsqlDbType.Text);
        }

        await importer.CompleteAsync();
    }
}

/// <summary>Statements the benchmarks send around the product's code: set-up, clean-up and figures.</summary>
internal static class BenchSql
{
    /// <summary>Runs a statement with positional parameters and no time limit (a load or a VACUUM takes a while).</summary>
    public static async Task ExecuteAsync(NpgsqlDataSource dataSource, string sql, params object[] parameters)
    {
        await using var command = Command(dataSource, sql, parameters);
        command.CommandTimeout = 0;
        await command.ExecuteNonQueryAsync();
    }

    public static async Task<T> ScalarAsync<T>(NpgsqlDataSource dataSource, string sql, params object[] parameters)
    {
        await using var command = Command(dataSource, sql, parameters);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    private static NpgsqlCommand Command(NpgsqlDataSource dataSource, string sql, object[] parameters)
    {
        var command = dataSource.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.AddWithValue(parameter);
        }

        return command;
    }
}
