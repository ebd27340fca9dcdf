using System.Globalization;
using System.Text;
using System.Text.Json;
using AnalyticsEngine.Catalog;
using AnalyticsEngine.Ingest;

namespace AnalyticsEngine.Grains.Tests.Ingest;

/// <summary>JSON and CSV rows of every object model are validated the same way, with row and field in every error.</summary>
public sealed class RowParserTests
{
    private static EventRowLayout Layout(string code) => new(BuiltInCatalog.ObjectModelsByCode[code]);

    public static TheoryData<string> ObjectModels() => [.. BuiltInCatalog.ObjectModels.Select(m => m.Code)];

    [Theory]
    [MemberData(nameof(ObjectModels))]
    public void A_valid_row_of_every_object_model_parses_from_json_and_from_csv_to_the_same_values(string code)
    {
        var layout = Layout(code);
        var values = layout.Slots.Select((s, i) => (s.Field, i)).ToDictionary(x => x.Field.Name, x => SampleValue(x.Field, x.i));

        var json = JsonRowParser.Parse(JsonSerializer.SerializeToUtf8Bytes(new[] { values }), layout, 10);
        var csvText = string.Join(',', values.Keys) + "\n" + string.Join(',', values.Values.Select(v => Csv(v))) + "\n";
        var csv = CsvRowParser.Parse(Encoding.UTF8.GetBytes(csvText), layout, 10);

        Assert.Empty(json.Errors);
        Assert.Empty(csv.Errors);
        Assert.Equal(json.Rows[0].Numbers, csv.Rows[0].Numbers);
        Assert.Equal(json.Rows[0].Texts, csv.Rows[0].Texts);
        Assert.Equal(json.Rows[0].EventTime, csv.Rows[0].EventTime);
    }

    [Fact]
    public void Csv_errors_name_the_data_row_and_the_field()
    {
        var csv = """
            time_log_id,staff_name,client_name,hours,rate,billable,logged_at
            t1,Ann,"Acme, Inc.",7.5,120,true,2026-03-01T09:00:00Z
            t2,Bob,Acme,25,120,yes,2026-03-01T09:00:00Z
            t3,Cid,Acme,8,-5,maybe,2026-03-01 09:00
            t4,Dee,Acme,8
            """;

        var outcome = CsvRowParser.Parse(Encoding.UTF8.GetBytes(csv), Layout("time_logs"), 100);

        Assert.Equal(4, outcome.Received);
        var accepted = Assert.Single(outcome.Rows);
        Assert.Equal(1, accepted.RowNumber);
        Assert.Contains("Acme, Inc.", accepted.Texts);
        var errors = outcome.Errors.Select(e => (e.Row, e.Field)).ToList();
        Assert.Contains((2, "hours"), errors);
        Assert.Contains((3, "rate"), errors);
        Assert.Contains((3, "billable"), errors);
        Assert.Contains((3, "logged_at"), errors);
        Assert.Contains((4, (string?)null), errors);
        Assert.DoesNotContain(outcome.Errors, e => e.Row == 1);
    }

    [Fact]
    public void An_unknown_or_repeated_csv_header_is_refused_before_any_row()
    {
        var outcome = CsvRowParser.Parse(Encoding.UTF8.GetBytes("order_id,colour,order_id\na,red,b\n"), Layout("orders"), 100);

        Assert.Empty(outcome.Rows);
        Assert.Contains(outcome.Errors, e => e is { Row: 0, Field: "colour" });
        Assert.Contains(outcome.Errors, e => e.Row == 0 && e.Field == "order_id" && e.Reason.Contains("repeats", StringComparison.Ordinal));
    }

    [Fact]
    public void Seats_used_above_seats_purchased_is_refused()
    {
        var row = new Dictionary<string, object?>
        {
            ["license_id"] = "L1", ["client_name"] = "Acme", ["product_name"] = "Office", ["seats_purchased"] = 10,
            ["seats_used"] = 12, ["cost_per_seat"] = 9.5, ["status"] = "Active", ["updated_at"] = "2026-03-01T00:00:00Z",
        };

        var outcome = JsonRowParser.Parse(JsonSerializer.SerializeToUtf8Bytes(new[] { row }), Layout("licenses"), 10);

        var error = Assert.Single(outcome.Errors);
        Assert.Equal(("seats_used", 1), (error.Field, error.Row));
        Assert.Contains("seats_purchased", error.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("2026-03-01T09:00:00")]
    [InlineData("2026-03-01")]
    [InlineData("yesterday")]
    [InlineData("1969-12-31T23:59:59Z")]
    public void Timestamps_without_an_offset_or_out_of_range_are_refused(string timestamp)
    {
        Assert.False(RowBuilder.TryParseTimestamp(timestamp, out _));
    }

    [Fact]
    public void A_dimension_value_longer_than_its_rollups_can_key_is_refused_a_longer_text_elsewhere_is_not()
    {
        var layout = Layout("orders");
        string Row(string carrier, string orderId) =>
            $$"""[{"order_id":"{{orderId}}","ordered_at":"2026-03-01T09:00:00Z","order_value":10,"promised_at":"2026-03-02T09:00:00Z","on_time":true,"in_full":true,"damage_free":true,"documentation_complete":true,"status":"open","carrier":"{{carrier}}"}]""";

        var tooLong = JsonRowParser.Parse(Encoding.UTF8.GetBytes(Row(new string('ü', RowBuilder.MaxDimensionLength + 1), "o1")), layout, 10);
        var longest = JsonRowParser.Parse(Encoding.UTF8.GetBytes(Row(new string('ü', RowBuilder.MaxDimensionLength), new string('x', 1500))), layout, 10);

        var error = Assert.Single(tooLong.Errors);
        Assert.Equal("carrier", error.Field);
        Assert.Contains("at most 500", error.Reason, StringComparison.Ordinal);
        Assert.Empty(longest.Errors); // order_id is no dimension: up to 2,000 characters
        Assert.True(BuiltInCatalog.ObjectModelsByCode["orders"].FindField("carrier")!.Dimension);
    }

    [Fact]
    public void Too_many_rows_is_a_limit_error_not_a_row_error()
    {
        var csv = "order_id\n" + string.Concat(Enumerable.Range(0, 11).Select(i => $"o{i}\n"));
        Assert.Throws<IngestLimitException>(() => CsvRowParser.Parse(Encoding.UTF8.GetBytes(csv), Layout("orders"), 10));
    }

    /// <summary>A value that satisfies the row rules: later fields get later timestamps, as ends follow starts.</summary>
    private static object? SampleValue(FieldDefinition field, int position) => field.Type switch
    {
        FieldType.Text => field.Name + " value",
        FieldType.Number => 3.25,
        FieldType.Integer => 2,
        FieldType.Boolean => true,
        FieldType.Timestamp => new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero).AddHours(position).ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
        _ => null,
    };

    private static string Csv(object? value) => value switch
    {
        bool b => b ? "true" : "false",
        double d => d.ToString(CultureInfo.InvariantCulture),
        int i => i.ToString(CultureInfo.InvariantCulture),
        _ => value?.ToString() ?? "",
    };
}
