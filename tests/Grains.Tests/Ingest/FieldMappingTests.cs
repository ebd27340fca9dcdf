using System.Text;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Ingest;

namespace AnalyticsEngine.Grains.Tests.Ingest;

/// <summary>A client's field mappings: rows are read with its own names for the object model's fields.</summary>
[Collection(KpiClusterCollection.Name)]
public sealed class FieldMappingTests(KpiClusterFixture fixture)
{
    private static readonly ObjectModelTable Orders = ObjectModelTables.BuiltIn.Get("orders");

    [Fact]
    public async Task Csv_and_json_rows_with_the_clients_own_field_names_are_stored_as_the_fields_they_map_to()
    {
        var clientId = "map-" + Guid.NewGuid().ToString("N")[..10];
        Assert.Empty(await fixture.Client.GetGrain<IClientConfigGrain>(clientId).Put(new ClientConfig(
            clientId, "Mapped", "UTC", ["POF"], [],
            [new FieldMapping("orders", "OrderNo", "order_id"), new FieldMapping("orders", "Placed", "ordered_at"), new FieldMapping("shipments", "OrderNo", "order_id")],
            0)));
        var ingest = fixture.Client.GetGrain<IIngestGrain>(IngestKeys.For(clientId, "orders"));
        var at = DateTimeOffset.UtcNow.AddMinutes(-5).ToString("yyyy-MM-ddTHH:mm:ssZ");

        var csv = await ingest.Ingest(new IngestRequest(IngestFormat.Csv, Encoding.UTF8.GetBytes(
            $"OrderNo,Placed,order_value,promised_at,on_time,in_full,damage_free,documentation_complete,status\r\nM-1,{at},10,{at},true,true,true,true,delivered\r\n"),
            IngestPolicy.RejectBatch, null));
        var json = await ingest.Ingest(new IngestRequest(IngestFormat.Json, Encoding.UTF8.GetBytes(
            $$"""[{"OrderNo":"M-2","Placed":"{{at}}","order_value":20,"promised_at":"{{at}}","on_time":true,"in_full":true,"damage_free":true,"documentation_complete":true,"status":"delivered"}]"""),
            IngestPolicy.RejectBatch, null));
        // A name the client maps for another object model only is no field of this one.
        var elsewhere = await fixture.Client.GetGrain<IIngestGrain>(IngestKeys.For(clientId, "invoices")).Ingest(
            new IngestRequest(IngestFormat.Json, Encoding.UTF8.GetBytes("""[{"OrderNo":"M-3"}]"""), IngestPolicy.RejectBatch, null));

        Assert.Equal((IngestStatus.Committed, IngestStatus.Committed), (csv.Status, json.Status));
        Assert.Contains(elsewhere.Errors, e => e.Field == "OrderNo");
        await using var command = fixture.Database.CreateCommand($"SELECT order_id, order_value FROM {Orders.QualifiedName} WHERE client_id = $1 ORDER BY sequence");
        command.Parameters.AddWithValue(clientId);
        await using var reader = await command.ExecuteReaderAsync();
        var stored = new List<(string, double)>();
        while (await reader.ReadAsync())
        {
            stored.Add((reader.GetString(0), Convert.ToDouble(reader.GetValue(1), System.Globalization.CultureInfo.InvariantCulture)));
        }

        Assert.Equal([("M-1", 10d), ("M-2", 20d)], stored);
    }
}
