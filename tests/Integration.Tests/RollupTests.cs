using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;

namespace AnalyticsEngine.Integration.Tests;

/// <summary>The ingest grain adds committed rows to the query rollups on its own, shortly after they commit.</summary>
[Collection(AnalyticsCollection.Name)]
public sealed class RollupTests(AnalyticsFixture fixture)
{
    [Fact]
    public async Task Posted_orders_are_rolled_up_shortly_after_they_commit_several_batches_at_once()
    {
        var clientId = TestClients.NewId("roll");
        await TestClients.CreateAsync(fixture.Http, clientId);
        var orders = TestOrder.Random(30, DateTimeOffset.UtcNow.AddMinutes(-20), seed: 3);
        foreach (var batch in new[] { orders[..10], orders[10..] })
        {
            var response = await fixture.Http.PostAsJsonAsync($"/ingest/orders?clientId={clientId}", batch);
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        }

        var database = fixture.Database;
        long rolledUpThrough = -1;
        await Eventually.HoldsAsync(
            async () => (rolledUpThrough = await ScalarAsync(database, "SELECT rolled_up_through FROM ingest.partitions WHERE client_id = $1 AND object_model = 'orders'", clientId)) == orders.Count,
            TimeSpan.FromSeconds(30),
            () => $"rolled up through {rolledUpThrough} of {orders.Count}");

        // Every row once in each slot length's events term.
        Assert.Equal(2 * orders.Count, await ScalarAsync(database, "SELECT sum(count)::bigint FROM query.term_rollups WHERE client_id = $1 AND term = 0", clientId));
        Assert.Equal(1, await ScalarAsync(database, "SELECT min(from_sequence) FROM query.rollup_terms WHERE client_id = $1", clientId));
        // And once in an hour slot under its value of each dimension field of orders (every test order is a delivered one by DHL).
        Assert.Equal(orders.Count, await ScalarAsync(database,
            "SELECT sum(count)::bigint FROM query.dimension_rollups WHERE client_id = $1 AND term = 0 AND dimension = 'carrier' AND value = '=DHL' AND slot_minutes = 60", clientId));
        Assert.Equal(orders.Count, await ScalarAsync(database,
            "SELECT sum(count)::bigint FROM query.dimension_rollups WHERE client_id = $1 AND term = 0 AND dimension = 'status' AND value = '=delivered'", clientId));
    }

    [Fact]
    public async Task A_clients_rollups_say_how_far_each_partition_is_rolled_up()
    {
        var clientId = TestClients.NewId("rollst");
        await TestClients.CreateAsync(fixture.Http, clientId);
        var before = await fixture.Http.GetFromJsonAsync<JsonElement>($"/clients/{clientId}/rollups");
        Assert.Equal(clientId, before.GetProperty("clientId").GetString());
        Assert.Equal(0, before.GetProperty("partitions").GetArrayLength());

        var orders = TestOrder.Random(12, DateTimeOffset.UtcNow.AddMinutes(-20), seed: 5);
        var response = await fixture.Http.PostAsJsonAsync($"/ingest/orders?clientId={clientId}", orders);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());

        JsonElement partition = default;
        await Eventually.HoldsAsync(
            async () =>
            {
                var status = await fixture.Http.GetFromJsonAsync<JsonElement>($"/clients/{clientId}/rollups");
                partition = status.GetProperty("partitions").EnumerateArray().Single(p => p.GetProperty("objectModel").GetString() == "orders");
                return partition.GetProperty("rolledUp").GetInt64() == orders.Count;
            },
            TimeSpan.FromSeconds(30),
            () => partition.ToString());

        Assert.Equal(orders.Count, partition.GetProperty("rows").GetInt64());
        Assert.True(partition.GetProperty("complete").GetBoolean());
        Assert.Equal(0, partition.GetProperty("missing").GetInt64());
        Assert.Equal(JsonValueKind.Null, partition.GetProperty("restartedAt").ValueKind);

        var unknown = await fixture.Http.GetAsync($"/clients/{TestClients.NewId("nobody")}/rollups");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("does not exist", await unknown.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task The_catalog_says_which_fields_drill_downs_read_from_rollups()
    {
        var orders = await fixture.Http.GetFromJsonAsync<System.Text.Json.JsonElement>("/object-models/orders");

        var dimensions = orders.GetProperty("fields").EnumerateArray()
            .Where(f => f.GetProperty("dimension").GetBoolean())
            .Select(f => f.GetProperty("name").GetString());

        Assert.Equal(["status", "carrier"], dimensions);
    }

    private static async Task<long> ScalarAsync(NpgsqlDataSource database, string sql, string clientId)
    {
        await using var command = database.CreateCommand(sql);
        command.Parameters.AddWithValue(clientId);
        return await command.ExecuteScalarAsync() is long value ? value : -1;
    }
}
