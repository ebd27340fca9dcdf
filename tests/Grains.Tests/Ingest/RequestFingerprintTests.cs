using System.Text;
using System.Text.Json;
using AnalyticsEngine.Catalog;
using AnalyticsEngine.Ingest;

namespace AnalyticsEngine.Grains.Tests.Ingest;

/// <summary>A request's fingerprint follows the rows it stores, not how they were written.</summary>
public sealed class RequestFingerprintTests
{
    private static readonly EventRowLayout Orders = new(BuiltInCatalog.ObjectModelsByCode["orders"]);

    private const string CsvHeader = "order_id,ordered_at,order_value,promised_at,on_time,in_full,damage_free,documentation_complete,status\n";

    [Fact]
    public void The_same_rows_written_otherwise_have_the_same_fingerprint()
    {
        var json = """
            [{"order_id": "A-1", "ordered_at": "2026-03-01T09:00:00Z", "order_value": 120.5, "promised_at": "2026-03-02T00:00:00Z",
              "on_time": true, "in_full": true, "damage_free": true, "documentation_complete": true, "status": "delivered"}]
            """;
        var reordered = """[{"status":"delivered","documentation_complete":true,"damage_free":true,"in_full":true,"on_time":true,"promised_at":"2026-03-02T01:00:00+01:00","order_value":1.205e2,"ordered_at":"2026-03-01T09:00:00Z","order_id":"A-1"}]""";
        var csv = CsvHeader + "A-1,2026-03-01T09:00:00Z,120.50,2026-03-02T00:00:00Z,true,true,true,true,delivered\n";

        var expected = Json(json);

        Assert.Equal(expected, Json(reordered));
        Assert.Equal(expected, RequestFingerprint.Of(CsvRowParser.Parse(Encoding.UTF8.GetBytes(csv), Orders, 10), Orders));
    }

    [Theory]
    [InlineData("order_value", 120.25)]
    [InlineData("order_id", "A-2")]
    [InlineData("status", "open")]
    [InlineData("on_time", false)]
    public void One_changed_value_changes_the_fingerprint(string field, object value)
    {
        var row = Row("A-1");
        var changed = Row("A-1");
        changed[field] = value;

        Assert.NotEqual(Json([row]), Json([changed]));
    }

    [Fact]
    public void Another_row_or_other_row_order_changes_the_fingerprint()
    {
        var first = Json([Row("A-1"), Row("A-2")]);

        Assert.NotEqual(first, Json([Row("A-1"), Row("A-2"), Row("A-3")]));
        Assert.NotEqual(first, Json([Row("A-2"), Row("A-1")]));
    }

    [Fact]
    public void An_optional_field_the_object_model_gains_leaves_the_fingerprint_of_rows_without_it()
    {
        // A retry across an upgrade that adds a field (and moves the others' slots) is still the same request.
        var model = BuiltInCatalog.ObjectModelsByCode["orders"];
        var before = new EventRowLayout(model with { Fields = [.. model.Fields.Where(f => f.Name != "delivered_at")] });
        var body = JsonSerializer.SerializeToUtf8Bytes(new[] { Row("A-1") });

        var fingerprint = RequestFingerprint.Of(JsonRowParser.Parse(body, before, 10), before);

        Assert.NotEqual(before.NumberCount, Orders.NumberCount);
        Assert.Equal(fingerprint, RequestFingerprint.Of(JsonRowParser.Parse(body, Orders, 10), Orders));
    }

    private static byte[] Json(string body) => RequestFingerprint.Of(JsonRowParser.Parse(Encoding.UTF8.GetBytes(body), Orders, 10), Orders);

    private static byte[] Json(Dictionary<string, object>[] rows)
    {
        var parsed = JsonRowParser.Parse(JsonSerializer.SerializeToUtf8Bytes(rows), Orders, 10);
        Assert.Empty(parsed.Errors);
        return RequestFingerprint.Of(parsed, Orders);
    }

    private static Dictionary<string, object> Row(string orderId) => new()
    {
        ["order_id"] = orderId,
        ["ordered_at"] = "2026-03-01T09:00:00Z",
        ["order_value"] = 120.5,
        ["promised_at"] = "2026-03-02T00:00:00Z",
        ["on_time"] = true,
        ["in_full"] = true,
        ["damage_free"] = true,
        ["documentation_complete"] = true,
        ["status"] = "delivered",
    };
}
