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
    public void A_csv_cell_of_two_quotes_is_the_empty_text_and_an_empty_cell_no_value_as_json_has_them()
    {
        var layout = Layout("orders");
        const string Header = "order_id,ordered_at,order_value,promised_at,on_time,in_full,damage_free,documentation_complete,status,carrier\n";
        const string Row = "2026-03-01T09:00:00Z,1,2026-03-02T00:00:00Z,true,true,true,true,open";
        var csv = CsvRowParser.Parse(Encoding.UTF8.GetBytes(Header + $"a,{Row},\"\"\nb,{Row},\n"), layout, 10);
        Dictionary<string, object?> Order(string id, string? carrier) => new()
        {
            ["order_id"] = id, ["ordered_at"] = "2026-03-01T09:00:00Z", ["order_value"] = 1, ["promised_at"] = "2026-03-02T00:00:00Z",
            ["on_time"] = true, ["in_full"] = true, ["damage_free"] = true, ["documentation_complete"] = true, ["status"] = "open", ["carrier"] = carrier,
        };
        var json = JsonRowParser.Parse(JsonSerializer.SerializeToUtf8Bytes(new[] { Order("a", ""), Order("b", null) }), layout, 10);

        Assert.Empty(csv.Errors);
        Assert.Empty(json.Errors);
        Assert.Equal(json.Rows.Select(r => r.Texts), csv.Rows.Select(r => r.Texts));
        var carrier = layout.Slots.Single(slot => slot.Field.Name == "carrier").Index;
        Assert.Equal(["", null], csv.Rows.Select(r => r.Texts[carrier]));
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
    public void Spaces_around_csv_values_are_padding_for_numbers_flags_and_timestamps_alike()
    {
        var csv = "time_log_id,staff_name,client_name,hours,rate,billable,logged_at\n"
            + "t1,Ann,Acme, 7.5 , 120 , true , 2026-03-01T09:00:00+01:00 \n";

        var outcome = CsvRowParser.Parse(Encoding.UTF8.GetBytes(csv), Layout("time_logs"), 100);

        Assert.Empty(outcome.Errors);
        Assert.Equal(new DateTimeOffset(2026, 3, 1, 8, 0, 0, TimeSpan.Zero), Assert.Single(outcome.Rows).EventTime);
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
    [InlineData("1970-01-01T00:30:00+01:00")]
    [InlineData("01/03/2026 12:00:00 +01:00")]
    [InlineData("Tuesday, 03 March 2026 12:00 +01:00")]
    [InlineData("2026-03-01 12:00:00Z")]
    [InlineData("2026-03-01T12:00:00.Z")]
    [InlineData("2026-02-30T12:00:00Z")]
    [InlineData("9999-01-01T00:00:00Z")]
    [InlineData("9999-12-31T12:00:00Z")]
    [InlineData("9999-12-31T23:00:00-05:00")]
    [InlineData("2026-03-01T12:00:00 Z")]
    [InlineData(" ")]
    public void Timestamps_without_an_offset_not_iso_8601_or_out_of_range_are_refused(string timestamp)
    {
        Assert.False(RowBuilder.TryParseTimestamp(timestamp, out _));
    }

    [Theory]
    [InlineData("1970-01-01T00:00:00Z", "1970-01-01T00:00:00+00:00")]
    [InlineData("2026-03-01T12:00+01:00", "2026-03-01T11:00:00+00:00")]
    [InlineData("2026-03-01t12:00:00.1234567-05:30", "2026-03-01T17:30:00.1234567+00:00")]
    [InlineData("9998-12-31T23:59:59.9999999Z", "9998-12-31T23:59:59.9999999+00:00")]
    [InlineData("2026-03-01T12:00:00.123456789Z", "2026-03-01T12:00:00.1234567+00:00")] // any number of digits, as the query API reads them
    [InlineData(" 2026-03-01T12:00:00Z\t", "2026-03-01T12:00:00+00:00")]
    public void Iso_8601_timestamps_with_an_offset_within_the_range_are_read_as_written(string timestamp, string utc)
    {
        Assert.True(RowBuilder.TryParseTimestamp(timestamp, out var value));
        Assert.Equal(DateTimeOffset.Parse(utc, CultureInfo.InvariantCulture), value);
    }

    [Fact]
    public void A_timestamp_past_the_calendars_last_year_is_refused_in_any_field_with_the_allowed_range()
    {
        var json = JsonRowParser.Parse(Encoding.UTF8.GetBytes(OrderJson("\"promised_at\":\"9999-12-31T12:00:00Z\"")), Layout("orders"), 10);
        var csv = CsvRowParser.Parse(Encoding.UTF8.GetBytes(OrderCsvHeader + "o1,9999-12-31T12:00:00Z,10,2026-03-02T09:00:00Z,true,true,true,true,open\n"), Layout("orders"), 10);

        var promised = Assert.Single(json.Errors);
        Assert.Equal((1, "promised_at"), (promised.Row, promised.Field));
        Assert.Contains("from 1970-01-01T00:00:00Z up to, not including, 9999-01-01T00:00:00Z", promised.Reason, StringComparison.Ordinal);
        var ordered = Assert.Single(csv.Errors);
        Assert.Equal((1, "ordered_at"), (ordered.Row, ordered.Field));
        Assert.Contains("9999-01-01T00:00:00Z", ordered.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_json_time_without_offset_is_told_it_has_none()
    {
        var outcome = JsonRowParser.Parse(Encoding.UTF8.GetBytes(OrderJson("\"promised_at\":\"2026-03-01T12:00:00\"")), Layout("orders"), 10);

        var error = Assert.Single(outcome.Errors);
        Assert.Equal("promised_at", error.Field);
        Assert.Contains("has no UTC offset", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_json_number_beyond_the_range_of_a_number_is_told_it_is_out_of_range()
    {
        var outcome = JsonRowParser.Parse(Encoding.UTF8.GetBytes(OrderJson("\"order_value\":1e400")), Layout("orders"), 10);

        var error = Assert.Single(outcome.Errors);
        Assert.Equal("order_value", error.Field);
        Assert.Contains("1e400 is out of range", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Json_nested_too_deep_is_refused_with_the_parsers_reason()
    {
        var outcome = JsonRowParser.Parse(Encoding.UTF8.GetBytes("[{\"carrier\":[[[[[[[[1]]]]]]]]}]"), Layout("orders"), 10);

        var error = Assert.Single(outcome.Errors);
        Assert.Contains("not valid JSON at line 1", error.Reason, StringComparison.Ordinal);
        Assert.Contains("depth", error.Reason, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("LineNumber", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_field_given_twice_in_one_json_row_is_refused_naming_the_row_and_field()
    {
        var body = "[" + OrderJson("") [1..^1] + "," + OrderJson("\"order_id\":\"dup1\",\"order_id\":\"dup2\"")[1..^1] + "]";

        var outcome = JsonRowParser.Parse(Encoding.UTF8.GetBytes(body), Layout("orders"), 10);

        var error = Assert.Single(outcome.Errors);
        Assert.Equal((2, "order_id"), (error.Row, error.Field));
        Assert.Contains("more than once", error.Reason, StringComparison.Ordinal);
        Assert.Single(outcome.Rows);
    }

    [Fact]
    public void Json_that_is_not_utf8_is_refused_whole_naming_the_row_and_field()
    {
        var valid = Encoding.UTF8.GetBytes(OrderJson(""));
        var invalid = Encoding.UTF8.GetBytes(OrderJson("\"carrier\":\"M~ller\""));
        invalid[Array.IndexOf(invalid, (byte)'~')] = 0xFC; // ü in Latin-1
        byte[] body = [(byte)'[', .. valid[1..^1], (byte)',', .. invalid[1..^1], (byte)']'];

        var outcome = JsonRowParser.Parse(body, Layout("orders"), 10);

        Assert.Empty(outcome.Rows);
        var error = Assert.Single(outcome.Errors);
        Assert.Equal((2, "carrier"), (error.Row, error.Field));
        Assert.Contains("not valid UTF-8", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_csv_quote_left_open_is_named_by_the_row_and_column_where_it_opens()
    {
        var csv = OrderCsvHeader + "o1,2026-03-01T09:00:00Z,10,2026-03-02T09:00:00Z,true,true,true,true,open\n"
            + "o2,2026-03-01T09:00:00Z,10,2026-03-02T09:00:00Z,true,true,true,true,\"open\n"
            + "o3,2026-03-01T09:00:00Z,10,2026-03-02T09:00:00Z,true,true,true,true,open\n";

        var outcome = CsvRowParser.Parse(Encoding.UTF8.GetBytes(csv), Layout("orders"), 10);

        Assert.Empty(outcome.Rows);
        var error = Assert.Single(outcome.Errors);
        Assert.Equal(2, error.Row);
        Assert.Contains("quote that opens column 9 of row 2 is never closed", error.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("t1,Ann,\"Acme\"Inc,7.5,120,true,2026-03-01T09:00:00Z\n", 3)]
    [InlineData("t1,Ann,\"Acme\" ,7.5,120,true,2026-03-01T09:00:00Z\n", 3)]
    [InlineData("\"t1\"x,Ann,Acme,7.5,120,true,2026-03-01T09:00:00Z\n", 1)]
    public void Text_after_a_closing_quote_refuses_the_body_naming_row_and_column(string row, int column)
    {
        var csv = "time_log_id,staff_name,client_name,hours,rate,billable,logged_at\n" + row;

        var outcome = CsvRowParser.Parse(Encoding.UTF8.GetBytes(csv), Layout("time_logs"), 100);

        Assert.Empty(outcome.Rows);
        var error = Assert.Single(outcome.Errors);
        Assert.Equal(1, error.Row);
        Assert.StartsWith($"Column {column} of row 1 has text after its closing quote", error.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\n\n")]
    [InlineData("\r\n\r\n\r\n")]
    public void Empty_lines_at_the_end_of_csv_are_ignored(string ending)
    {
        var csv = OrderCsvHeader + "o1,2026-03-01T09:00:00Z,10,2026-03-02T09:00:00Z,true,true,true,true,open" + ending;

        var outcome = CsvRowParser.Parse(Encoding.UTF8.GetBytes(csv), Layout("orders"), 10);

        Assert.Empty(outcome.Errors);
        Assert.Equal(1, outcome.Received);
        Assert.Single(outcome.Rows);
    }

    [Fact]
    public void An_empty_line_between_csv_rows_is_refused_as_an_empty_row()
    {
        var row = "2026-03-01T09:00:00Z,10,2026-03-02T09:00:00Z,true,true,true,true,open\n";
        var csv = OrderCsvHeader + "o1," + row + "\n" + "o3," + row;

        var outcome = CsvRowParser.Parse(Encoding.UTF8.GetBytes(csv), Layout("orders"), 10);

        var error = Assert.Single(outcome.Errors);
        Assert.Equal((2, (string?)null), (error.Row, error.Field));
        Assert.Contains("row 2 is empty", error.Reason, StringComparison.Ordinal);
        Assert.Equal([1, 3], outcome.Rows.Select(r => r.RowNumber));
    }

    [Fact]
    public void A_csv_value_error_names_the_column_as_well_as_the_field()
    {
        var csv = OrderCsvHeader + "o1,2026-03-01T09:00:00Z,ten,2026-03-02T09:00:00Z,true,true,true,true,open\n";

        var error = Assert.Single(CsvRowParser.Parse(Encoding.UTF8.GetBytes(csv), Layout("orders"), 10).Errors);

        Assert.Equal("order_value", error.Field);
        Assert.StartsWith("column 3: 'ten'", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Csv_bytes_that_are_not_utf8_are_refused_whole_naming_row_and_column()
    {
        var csv = Encoding.UTF8.GetBytes("\uFEFF" + OrderCsvHeader.TrimEnd('\n') + ",carrier\n"
            + "o1,2026-03-01T09:00:00Z,10,2026-03-02T09:00:00Z,true,true,true,true,open,Müller\n"
            + "o2,2026-03-01T09:00:00Z,10,2026-03-02T09:00:00Z,true,true,true,true,open,M~ller\n");
        csv[Array.IndexOf(csv, (byte)'~')] = 0xFC;

        var outcome = CsvRowParser.Parse(csv, Layout("orders"), 10);

        Assert.Empty(outcome.Rows);
        var error = Assert.Single(outcome.Errors);
        Assert.Equal((2, "carrier"), (error.Row, error.Field));
        Assert.Contains("row 2, column 10 (carrier)", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Csv_with_a_utf8_byte_order_mark_reads_its_first_header_name()
    {
        var csv = Encoding.UTF8.GetBytes("\uFEFF" + OrderCsvHeader + "o1,2026-03-01T09:00:00Z,10,2026-03-02T09:00:00Z,true,true,true,true,\"open, \"\"late\"\"\"\r\n");

        var outcome = CsvRowParser.Parse(csv, Layout("orders"), 10);

        Assert.Empty(outcome.Errors);
        Assert.Contains("open, \"late\"", Assert.Single(outcome.Rows).Texts);
    }

    private const string OrderCsvHeader = "order_id,ordered_at,order_value,promised_at,on_time,in_full,damage_free,documentation_complete,status\n";

    /// <summary>A JSON array of one valid order, whose last properties are <paramref name="extra"/> (later ones win in a dictionary, not here).</summary>
    private static string OrderJson(string extra)
    {
        var fields = new Dictionary<string, string>
        {
            ["order_id"] = "\"o1\"", ["ordered_at"] = "\"2026-03-01T09:00:00Z\"", ["order_value"] = "10", ["promised_at"] = "\"2026-03-02T09:00:00Z\"",
            ["on_time"] = "true", ["in_full"] = "true", ["damage_free"] = "true", ["documentation_complete"] = "true", ["status"] = "\"open\"",
        };
        var overridden = extra.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(p => p.Split(':', 2)[0].Trim('"')).ToHashSet();
        var properties = fields.Where(f => !overridden.Contains(f.Key)).Select(f => $"\"{f.Key}\":{f.Value}");
        return "[{" + string.Join(',', extra.Length == 0 ? properties : properties.Append(extra)) + "}]";
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
