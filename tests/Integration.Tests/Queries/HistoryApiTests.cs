using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace AnalyticsEngine.Integration.Tests.Queries;

/// <summary><c>GET /clients/{id}/kpis/{code}/history</c>: the query path's answer over HTTP GET, with its guards.</summary>
[Collection(AnalyticsCollection.Name)]
public sealed class HistoryApiTests(AnalyticsFixture fixture)
{
    private static string Iso(DateTimeOffset value) => Uri.EscapeDataString(value.ToString("O"));

    private async Task<(string ClientId, DateTimeOffset From, DateTimeOffset To)> ClientWithOrdersAsync()
    {
        var clientId = TestClients.NewId("history");
        await TestClients.CreateAsync(fixture.Http, clientId);
        var now = DateTimeOffset.UtcNow;
        var day = new DateTimeOffset(now.Year, now.Month, now.Day, 0, 0, 0, TimeSpan.Zero).AddDays(-3);
        var orders = Enumerable.Range(0, 12).SelectMany(i => TestOrder.Random(4, day.AddHours(2 * i).AddMinutes(7), 500 + i)).ToList();
        using var response = await fixture.Http.PostAsJsonAsync($"/ingest/orders?clientId={clientId}", orders);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        return (clientId, day, day.AddDays(1));
    }

    [Fact]
    public async Task History_answers_what_calculate_answers_in_json_and_csv()
    {
        var (clientId, from, to) = await ClientWithOrdersAsync();
        var url = $"/clients/{clientId}/kpis/POF/history?from={Iso(from)}&to={Iso(to)}&granularity=hour";

        var history = await fixture.Http.GetStringAsync(url);
        using var calculated = await fixture.Http.PostAsJsonAsync("/calculate", new { clientId, kpiCode = "POF", from, to, granularity = "hour" });
        Assert.Equal(await calculated.Content.ReadAsStringAsync(), history);

        var values = JsonDocument.Parse(history).RootElement.GetProperty("series")[0].GetProperty("values");
        Assert.Equal(48, values.EnumerateArray().Sum(v => v.GetProperty("eventCount").GetInt64()));
        Assert.All(values.EnumerateArray(), v => Assert.Equal("hour", v.GetProperty("granularity").GetString()));

        using var csvRequest = new HttpRequestMessage(HttpMethod.Get, url);
        csvRequest.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/csv"));
        using var csv = await fixture.Http.SendAsync(csvRequest);
        using var calculatedCsv = await fixture.Http.PostAsJsonAsync("/calculate?format=csv", new { clientId, kpiCode = "POF", from, to, granularity = "hour" });
        var text = await csv.Content.ReadAsStringAsync();
        Assert.Equal("text/csv", csv.Content.Headers.ContentType?.MediaType);
        Assert.Equal(await calculatedCsv.Content.ReadAsStringAsync(), text);
        Assert.Equal(25, Csv.Parse(text).Count); // header and 24 hours (the range is a UTC day; Berlin hours are whole UTC hours)
        Assert.Equal(text, await fixture.Http.GetStringAsync(url + "&format=csv"));
    }

    [Fact]
    public async Task A_custom_kpi_whose_rows_go_past_a_doubles_range_has_no_value_there_as_in_the_stream()
    {
        var (clientId, from, to) = await ClientWithOrdersAsync();
        using (var created = await fixture.Http.PostAsJsonAsync($"/clients/{clientId}/custom-kpis", new
        {
            code = "OVERFLOW", name = "Overflow", formula = "sum(orders.order_value * 1e300 * 1e300)",
        }))
        {
            Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        }

        // PostgreSQL's float8 raises where each row's product goes past the range; the engine's doubles make it no
        // value, and so does the query.
        using var response = await fixture.Http.GetAsync($"/clients/{clientId}/kpis/OVERFLOW/history?from={Iso(from)}&to={Iso(to)}&granularity=hour");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var values = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("series")[0].GetProperty("values").EnumerateArray().ToList();
        Assert.Equal(48, values.Sum(v => v.GetProperty("eventCount").GetInt64()));
        Assert.All(values, v =>
        {
            Assert.Equal(JsonValueKind.Null, v.GetProperty("value").ValueKind);
            Assert.StartsWith("sum(orders.order_value * 1e300 * 1e300) has no value", v.GetProperty("noValueReason").GetString(), StringComparison.Ordinal);
        });
    }

    [Theory]
    [InlineData("from={to}&to={from}&granularity=hour", 400, "Invalid range")]
    [InlineData("to={to}&granularity=hour", 400, "from")]
    [InlineData("from={from}&granularity=hour", 400, "to")]
    [InlineData("from={from}&to={to}&granularity=fortnight", 400, "Unsupported granularity")]
    [InlineData("from={from}&to={far}&granularity=minute", 400, "Too many points")]
    [InlineData("from={from}&to={to}&dimension=no_such_field", 400, "Invalid dimension")]
    [InlineData("from=yesterday&to={to}", 400, "'yesterday' is not an ISO 8601 time with an offset")]
    [InlineData("from={from}&to=2026-11-26T00:00:00", 400, "'2026-11-26T00:00:00' is not an ISO 8601 time with an offset")]
    [InlineData("from=2026-11-26T00:00:00+01:00&to={to}", 400, "the '+' of its offset arrived as a space, as an unencoded '+' in a query string does; write it as %2B")]
    [InlineData("from={from}&to={to}&format=xml", 400, "Unsupported format")]
    [InlineData("from=0001-01-01T00:00:00Z&to=0001-01-01T05:00:00Z&granularity=hour", 400, "The range must lie between 1970-01-01 and 9999-01-01")]
    [InlineData("from=9998-12-30T00:00:00Z&to=9999-12-31T23:59:59Z&granularity=month", 400, "The range must lie between 1970-01-01 and 9999-01-01")]
    public async Task History_refuses_bad_ranges_and_granularities_with_a_clear_400(string query, int status, string expected)
    {
        var (clientId, from, to) = await ClientWithOrdersAsync();
        var url = $"/clients/{clientId}/kpis/OTD/history?" + query
            .Replace("{from}", Iso(from), StringComparison.Ordinal)
            .Replace("{to}", Iso(to), StringComparison.Ordinal)
            .Replace("{far}", Iso(from.AddDays(30)), StringComparison.Ordinal);

        using var response = await fixture.Http.GetAsync(url);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == (int)response.StatusCode, text);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(expected, text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task History_of_an_unknown_kpi_is_404()
    {
        var (clientId, from, to) = await ClientWithOrdersAsync();
        using var response = await fixture.Http.GetAsync($"/clients/{clientId}/kpis/NO_SUCH_KPI/history?from={Iso(from)}&to={Iso(to)}");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("NO_SUCH_KPI", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
