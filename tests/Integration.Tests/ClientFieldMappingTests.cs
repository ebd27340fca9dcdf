using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace AnalyticsEngine.Integration.Tests;

/// <summary>A client's field mappings: checked against the catalog when saved, and applied to the rows it sends.</summary>
[Collection(AnalyticsCollection.Name)]
public sealed class ClientFieldMappingTests(AnalyticsFixture fixture)
{
    [Fact]
    public async Task Mappings_to_no_model_or_field_and_names_that_would_hide_a_field_are_refused_by_their_index()
    {
        var clientId = TestClients.NewId("fmap");
        using var response = await fixture.Http.PostAsJsonAsync("/clients", new
        {
            clientId,
            name = "Mappings",
            timeZone = "UTC",
            selectedKpis = new[] { "POF" },
            fieldMappings = new[]
            {
                new { objectModel = "order", sourceField = "OrderNo", modelField = "order_id" },
                new { objectModel = "orders", sourceField = "OrderNo", modelField = "order_number" },
                new { objectModel = "orders", sourceField = "status", modelField = "carrier" },
                new { objectModel = "orders", sourceField = "Placed", modelField = "ordered_at" },
                new { objectModel = "orders", sourceField = "Placed", modelField = "promised_at" },
            },
        });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("errors");
        string Error(string field) => errors.GetProperty(field)[0].GetString()!;
        Assert.StartsWith("'order' is not an object model; they are: ", Error("fieldMappings[0].objectModel"), StringComparison.Ordinal);
        Assert.StartsWith("'order_number' is not a field of 'orders'; its fields are: order_id, ", Error("fieldMappings[1].modelField"), StringComparison.Ordinal);
        Assert.Equal("'status' is the name of another field of 'orders', which would become unreadable", Error("fieldMappings[2].sourceField"));
        Assert.Equal("'Placed' is mapped more than once for 'orders'", Error("fieldMappings[4].sourceField"));
        Assert.False(errors.TryGetProperty("fieldMappings[3].sourceField", out _));
    }

    [Fact]
    public async Task Rows_posted_with_the_clients_own_names_are_stored_and_counted()
    {
        var clientId = TestClients.NewId("fmap");
        using (var created = await fixture.Http.PostAsJsonAsync("/clients", new
        {
            clientId,
            name = "Mappings",
            timeZone = "UTC",
            selectedKpis = new[] { "POF" },
            fieldMappings = new[] { new { objectModel = "orders", sourceField = "Order No", modelField = "order_id" } },
        }))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        var at = DateTimeOffset.UtcNow.AddMinutes(-5).ToString("yyyy-MM-ddTHH:mm:ssZ");
        using var csv = new StringContent(
            $"Order No,ordered_at,order_value,promised_at,on_time,in_full,damage_free,documentation_complete,status\nF-1,{at},5,{at},true,true,true,true,delivered\n",
            Encoding.UTF8, "text/csv");
        using var ingested = await fixture.Http.PostAsync($"/ingest/orders?clientId={clientId}", csv);

        Assert.Equal(HttpStatusCode.OK, ingested.StatusCode);
        Assert.Equal(1, JsonDocument.Parse(await ingested.Content.ReadAsStringAsync()).RootElement.GetProperty("accepted").GetInt32());
    }
}
