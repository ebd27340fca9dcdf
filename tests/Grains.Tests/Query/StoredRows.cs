using Npgsql;

namespace AnalyticsEngine.Grains.Tests.Query;

/// <summary>
/// Rows written straight into the object-model tables, around the ingest grain (as rows stored before rollups existed
/// would be), with the partition's end set to match: for tests of the rollups themselves.
/// </summary>
internal sealed class StoredRows(NpgsqlDataSource database)
{
    /// <summary>The hour the rows end at: they lie in the two days before it.</summary>
    public static readonly DateTimeOffset End = HourStart(DateTimeOffset.UtcNow);

    /// <summary>Orders <paramref name="first"/>..<paramref name="last"/>, one every 90 s back from <see cref="End"/> by sequence, carriers in turn (and none).</summary>
    public async Task OrdersAsync(string clientId, int first, int last)
    {
        await ExecuteAsync(
            """
            INSERT INTO scor_data.orders (client_id, sequence, order_id, ordered_at, order_value, promised_at,
                                          on_time, in_full, damage_free, documentation_complete, status, carrier)
            SELECT $1, i, 'dim-' || i, $2 - (i * 97 % 1920) * interval '90 seconds', i % 13 * 4, $2 + interval '2 days',
                   i % 7 <> 0, i % 5 <> 0, true, i % 11 <> 0, 'delivered',
                   (ARRAY['dhl', 'ups', 'fedex', NULL])[i % 4 + 1]
            FROM generate_series($3, $4) AS i
            """, clientId, End.UtcDateTime, first, last);
        await SetPartitionEndAsync(clientId, "orders", last);
    }

    public async Task ShipmentsAsync(string clientId, int first, int last)
    {
        await ExecuteAsync(
            """
            INSERT INTO scor_data.shipments (client_id, sequence, shipment_id, order_id, shipped_at, carrier, units, freight_cost, status)
            SELECT $1, i, 'dim-' || i, 'o-' || i, $2 - (i * 97 % 1920) * interval '90 seconds', 'dhl', i % 6, i % 9 * 2.5,
                   (ARRAY['delivered', 'in_transit', 'lost'])[i % 3 + 1]
            FROM generate_series($3, $4) AS i
            """, clientId, End.UtcDateTime, first, last);
        await SetPartitionEndAsync(clientId, "shipments", last);
    }

    /// <summary>Sets the value of a client's orders <paramref name="first"/>..<paramref name="last"/>.</summary>
    public Task SetOrderValueAsync(string clientId, int first, int last, double value) => ExecuteAsync(
        "UPDATE scor_data.orders SET order_value = $4 WHERE client_id = $1 AND sequence BETWEEN $2 AND $3",
        clientId, (long)first, (long)last, value);

    private Task SetPartitionEndAsync(string clientId, string model, long end) => ExecuteAsync(
        """
        INSERT INTO ingest.partitions (client_id, object_model, last_sequence) VALUES ($1, $2, $3)
        ON CONFLICT (client_id, object_model) DO UPDATE SET last_sequence = excluded.last_sequence
        """, clientId, model, end);

    private async Task ExecuteAsync(string sql, params object[] parameters)
    {
        await using var command = Command(sql, parameters);
        await command.ExecuteNonQueryAsync();
    }

    private NpgsqlCommand Command(string sql, object[] parameters)
    {
        var command = database.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        return command;
    }

    private static DateTimeOffset HourStart(DateTimeOffset at) => new(at.Year, at.Month, at.Day, at.Hour, 0, 0, TimeSpan.Zero);
}
