using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using AnalyticsEngine.Gateway.Api;

namespace AnalyticsEngine.Integration.Tests.Queries;

/// <summary>CSV of KPI results: RFC 4180 quoting, and text that a spreadsheet would evaluate is neutralised.</summary>
public sealed class CsvTextTests
{
    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("", "\"\"")] // the empty text, told apart from no value
    [InlineData(null, "")]
    [InlineData("a,b", "\"a,b\"")]
    [InlineData("say \"hi\"", "\"say \"\"hi\"\"\"")]
    [InlineData("line1\r\nline2", "\"line1\r\nline2\"")]
    [InlineData("line1\nline2", "\"line1\nline2\"")]
    [InlineData(" padded ", "\" padded \"")]
    [InlineData("=1+2", "'=1+2")]
    [InlineData("=HYPERLINK(\"http://evil\",\"x\")", "\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\"")]
    [InlineData("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0")]
    [InlineData("-2+3", "'-2+3")]
    [InlineData("@SUM(A1)", "'@SUM(A1)")]
    [InlineData("\tTAB", "'\tTAB")]
    public void Text_fields_are_quoted_and_neutralised(string? value, string expected) =>
        Assert.Equal(expected, CsvText.Field(value));

    [Theory]
    [InlineData("-2.5")]
    [InlineData("1E-05")]
    [InlineData("42")]
    public void Numbers_are_written_as_they_are(string number)
    {
        var line = new System.Text.StringBuilder();
        CsvText.Line(line, [number, "=x"]);
        Assert.Equal($"{number},'=x\r\n", line.ToString());
    }

    [Theory]
    [InlineData("-Infinity", "'-Infinity")]
    [InlineData("-∞", "'-∞")]
    public void Text_that_parses_as_an_infinite_number_is_still_neutralised(string text, string expected)
    {
        var line = new System.Text.StringBuilder();
        CsvText.Line(line, [text]);
        Assert.Equal($"{expected}\r\n", line.ToString());
    }
}

/// <summary>Hostile dimension values from ingested data come back from every CSV answer as one field each, intact but inert.</summary>
[Collection(AnalyticsCollection.Name)]
public sealed class CsvExportTests(AnalyticsFixture fixture)
{
    private static readonly string[] Hostile =
    [
        "=HYPERLINK(\"http://evil.example\",\"click\")",
        "a,b \"quoted\"",
        "line1\nline2",
        "+SUM(1;2)",
        "@cmd",
        "Ω unicode ✓",
    ];

    [Fact]
    public async Task Hostile_dimension_values_survive_a_round_trip_through_csv()
    {
        var clientId = TestClients.NewId("csv");
        await TestClients.CreateAsync(fixture.Http, clientId);
        var hour = new DateTimeOffset(DateTimeOffset.UtcNow.Year, DateTimeOffset.UtcNow.Month, DateTimeOffset.UtcNow.Day, 0, 0, 0, TimeSpan.Zero).AddDays(-2);
        var orders = TestOrder.Random(Hostile.Length * 2, hour, 11).Select((o, i) => o with { carrier = Hostile[i % Hostile.Length] }).ToList();
        using (var ingest = await fixture.Http.PostAsJsonAsync($"/ingest/orders?clientId={clientId}", orders))
        {
            Assert.True(ingest.IsSuccessStatusCode, await ingest.Content.ReadAsStringAsync());
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, "/calculate")
        {
            Content = JsonContent.Create(new { clientId, kpiCode = "OTD", from = hour, to = hour.AddDays(1), granularity = "range", dimension = "carrier" }),
        };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/csv"));
        using var response = await fixture.Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        Assert.Equal("text/csv", response.Content.Headers.ContentType?.MediaType);

        var records = Csv.Records(text);
        Assert.Equal(KpiResults.CsvHeader, text[..text.IndexOf("\r\n", StringComparison.Ordinal)]);
        var dimensions = records.Select(r => r["dimension"]).Order(StringComparer.Ordinal).ToList();
        var expected = Hostile.Select(h => h[0] is '=' or '+' or '-' or '@' ? "'" + h : h).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expected, dimensions);
        Assert.All(records, r => Assert.Equal("2", r["event_count"]));
        Assert.All(records, r => Assert.StartsWith("orders:", r["as_of"], StringComparison.Ordinal));

        // Components are one JSON object per cell, whatever characters their formula text holds.
        var components = JsonDocument.Parse(records[0]["components"]).RootElement;
        Assert.Equal(JsonValueKind.Object, components.ValueKind);
        Assert.Contains(components.EnumerateObject(), p => p.Value.ValueKind == JsonValueKind.Number && p.Value.GetDouble() == 2);
    }

    [Fact]
    public async Task A_dimension_value_that_is_the_empty_text_is_told_apart_from_none_as_in_json()
    {
        var clientId = TestClients.NewId("csvnull");
        await TestClients.CreateAsync(fixture.Http, clientId);
        var hour = new DateTimeOffset(2026, 11, 2, 10, 0, 0, TimeSpan.Zero);
        var orders = TestOrder.Random(4, hour, 13).Select((o, i) => o with { carrier = i % 2 == 0 ? "" : null }).ToList();
        using (var ingest = await fixture.Http.PostAsJsonAsync($"/ingest/orders?clientId={clientId}", orders))
        {
            Assert.True(ingest.IsSuccessStatusCode, await ingest.Content.ReadAsStringAsync());
        }

        var query = new { clientId, kpiCode = "OTD", from = hour, to = hour.AddHours(1), granularity = "range", dimension = "carrier" };
        using var json = await fixture.Http.PostAsJsonAsync("/calculate", query);
        var series = (await json.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("series").EnumerateArray().ToList();
        Assert.Equal([null, ""], series.Select(s => s.GetProperty("dimensionValue").GetString()).Order(StringComparer.Ordinal));

        using var request = new HttpRequestMessage(HttpMethod.Post, "/calculate?format=csv") { Content = JsonContent.Create(query) };
        using var response = await fixture.Http.SendAsync(request);
        var lines = (await response.Content.ReadAsStringAsync()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Skip(1).Order(StringComparer.Ordinal).ToList();

        // The dimension is the fourth field: "" for the empty text, nothing for rows without a carrier.
        Assert.Equal(2, lines.Count);
        Assert.StartsWith($"{clientId},OTD,range,\"\",2026-11-02T10:00:00+00:00,", lines[0], StringComparison.Ordinal);
        Assert.StartsWith($"{clientId},OTD,range,,2026-11-02T10:00:00+00:00,", lines[1], StringComparison.Ordinal);
        Assert.All(lines, l => Assert.EndsWith("}\",", l, StringComparison.Ordinal)); // the components, then no error
    }
}
