using System.Text.Json;
using AnalyticsEngine.Ingest;
using Npgsql;

namespace AnalyticsEngine.Grains.Tests.Ingest;

/// <summary>Orders as an ingest body, by id, and the ids a client has stored, in sequence order.</summary>
internal static class OrderBodies
{
    private static readonly ObjectModelTable Orders = ObjectModelTables.BuiltIn.Get("orders");

    /// <summary>One instant for every body, so that the same order ids always make the same rows.</summary>
    public static readonly DateTimeOffset OrderedAt = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.AddMinutes(-5).ToUnixTimeSeconds() / 60 * 60);

    public static byte[] Body(params string[] orderIds) =>
        JsonSerializer.SerializeToUtf8Bytes(orderIds.Select(id => new
        {
            order_id = id,
            ordered_at = OrderedAt,
            order_value = 10.0,
            promised_at = new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero),
            on_time = true,
            in_full = true,
            damage_free = true,
            documentation_complete = true,
            status = "delivered",
        }));

    public static async Task<List<string>> StoredIdsAsync(NpgsqlDataSource database, string clientId)
    {
        await using var command = database.CreateCommand($"SELECT order_id FROM {Orders.QualifiedName} WHERE client_id = $1 ORDER BY sequence");
        command.Parameters.AddWithValue(clientId);
        var ids = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            ids.Add(reader.GetString(0));
        }

        return ids;
    }
}
