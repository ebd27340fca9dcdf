using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace AnalyticsEngine.Integration.Tests.Queries;

/// <summary>
/// What the query endpoints say about a body or parameter they cannot read: the field (its JSON path or the query
/// parameter) in <c>errors</c> and why, without .NET's type names; and that a time must carry its offset.
/// </summary>
[Collection(AnalyticsCollection.Name)]
public sealed class QueryInputTests(AnalyticsFixture fixture)
{
    private const string Range = "\"from\":\"2026-11-02T00:00:00Z\",\"to\":\"2026-11-03T00:00:00Z\"";

    private async Task<string> ClientAsync()
    {
        var clientId = TestClients.NewId("input");
        await TestClients.CreateAsync(fixture.Http, clientId);
        return clientId;
    }

    private async Task<(HttpStatusCode Status, JsonElement Problem, string Text)> PostAsync(string url, string json)
    {
        using var response = await fixture.Http.PostAsync(url, new StringContent(json, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK || response.Content.Headers.ContentType?.MediaType == "application/problem+json", text);
        return (response.StatusCode, JsonDocument.Parse(text).RootElement, text);
    }

    private static string[] Errors(JsonElement problem, string field) =>
        [.. problem.GetProperty("errors").GetProperty(field).EnumerateArray().Select(e => e.GetString()!)];

    [Theory]
    [InlineData("\"2026-11-02T00:00:00\"", "'2026-11-02T00:00:00' is not an ISO 8601 time with an offset")]
    [InlineData("\"2026-11-02\"", "'2026-11-02' is not an ISO 8601 time with an offset")]
    [InlineData("\"yesterday\"", "'yesterday' is not an ISO 8601 time with an offset")]
    [InlineData("1764028800", "is a number, not an ISO 8601 time with an offset")]
    [InlineData("\"2026-11-02T00:00:00Z\\n\"", "'2026-11-02T00:00:00Z\n' is not an ISO 8601 time with an offset")]
    [InlineData("\"2026-02-30T00:00:00Z\"", "'2026-02-30T00:00:00Z' is not a time of the calendar")]
    [InlineData("\"2026-11-02T24:00:00+01:00\"", "'2026-11-02T24:00:00+01:00' is not a time of the calendar")]
    public async Task A_time_without_an_offset_or_not_a_time_is_refused_naming_the_field(string from, string reason)
    {
        var clientId = await ClientAsync();

        var (status, problem, text) = await PostAsync("/calculate",
            $"{{\"clientId\":\"{clientId}\",\"kpiCode\":\"POF\",\"from\":{from},\"to\":\"2026-11-03T00:00:00Z\",\"granularity\":\"hour\"}}");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.StartsWith(reason, Assert.Single(Errors(problem, "from")), StringComparison.Ordinal);
        Assert.DoesNotContain("AnalyticsEngine.", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("2026-11-02T00:00:00.123456000Z", 1_234_560)]
    [InlineData("2026-11-02T00:00:00.1234567Z", 1_234_567)] // as .NET writes a DateTimeOffset
    [InlineData("2026-11-02T00:00:00.123456789Z", 1_234_568)] // finer than 100 ns: rounded up to it
    [InlineData("2026-11-02T00:00:00.12345670Z", 1_234_567)]
    public async Task A_time_is_read_with_any_number_of_fractional_digits_to_100_ns_rounded_up(string from, long ticks)
    {
        var clientId = await ClientAsync();

        var (status, answer, text) = await PostAsync("/calculate",
            $"{{\"clientId\":\"{clientId}\",\"kpiCode\":\"POF\",\"from\":\"{from}\",\"to\":\"2026-11-03T00:00:00Z\",\"granularity\":\"range\"}}");
        using var history = await fixture.Http.GetAsync($"/clients/{clientId}/kpis/POF/history?from={from}&to=2026-11-03T00:00:00Z&granularity=range");

        Assert.True(status == HttpStatusCode.OK, text);
        Assert.Equal(new DateTimeOffset(2026, 11, 2, 0, 0, 0, TimeSpan.Zero).AddTicks(ticks), answer.GetProperty("from").GetDateTimeOffset());
        Assert.Equal(HttpStatusCode.OK, history.StatusCode);
    }

    [Theory]
    [InlineData("2026-02-30T00:00:00Z", "is not a time of the calendar")]
    public async Task A_query_string_time_is_refused_for_what_is_wrong_with_it(string from, string reason)
    {
        var clientId = await ClientAsync();

        using var history = await fixture.Http.GetAsync($"/clients/{clientId}/kpis/POF/history?from={from}&to=2026-11-03T00:00:00Z");
        var problem = JsonDocument.Parse(await history.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(HttpStatusCode.BadRequest, history.StatusCode);
        Assert.StartsWith($"'{from}' {reason}", Assert.Single(Errors(problem, "from")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_time_with_any_offset_is_the_same_instant()
    {
        var clientId = await ClientAsync();
        var orders = TestOrder.Random(6, new DateTimeOffset(2026, 11, 2, 9, 30, 0, TimeSpan.Zero), 7);
        using (var ingested = await fixture.Http.PostAsJsonAsync($"/ingest/orders?clientId={clientId}", orders))
        {
            Assert.True(ingested.IsSuccessStatusCode, await ingested.Content.ReadAsStringAsync());
        }

        var (utcStatus, utc, _) = await PostAsync("/calculate",
            $"{{\"clientId\":\"{clientId}\",\"kpiCode\":\"POF\",{Range},\"granularity\":\"hour\"}}");
        var (zonedStatus, zoned, _) = await PostAsync("/calculate",
            $"{{\"clientId\":\"{clientId}\",\"kpiCode\":\"POF\",\"from\":\"2026-11-02T05:30:00+05:30\",\"to\":\"2026-11-02T19:00:00-05:00\",\"granularity\":\"hour\"}}");

        Assert.Equal(HttpStatusCode.OK, utcStatus);
        Assert.Equal(HttpStatusCode.OK, zonedStatus);
        var values = utc.GetProperty("series")[0].GetProperty("values");
        Assert.Equal(6, values.EnumerateArray().Sum(v => v.GetProperty("eventCount").GetInt64()));
        Assert.Equal(values.GetRawText(), zoned.GetProperty("series")[0].GetProperty("values").GetRawText());
    }

    [Fact]
    public async Task A_value_of_the_wrong_type_names_its_field_and_no_dotnet_type()
    {
        var (status, problem, text) = await PostAsync("/calculate",
            $"{{\"clientId\":42,\"kpiCode\":\"POF\",{Range},\"granularity\":\"hour\"}}");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("has a value of the wrong type for this field", Assert.Single(Errors(problem, "clientId")));
        Assert.DoesNotContain("System.", text, StringComparison.Ordinal);
        Assert.DoesNotContain("AnalyticsEngine.", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_time_in_a_batch_names_the_query_it_is_in()
    {
        var clientId = await ClientAsync();

        var (status, problem, _) = await PostAsync("/calculate/batch",
            $"{{\"queries\":[{{\"clientId\":\"{clientId}\",\"kpiCode\":\"POF\",{Range}}},{{\"clientId\":\"{clientId}\",\"kpiCode\":\"OTD\",\"from\":\"2026-11-02 00:00\",\"to\":\"2026-11-03T00:00:00Z\"}}]}}");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.StartsWith("'2026-11-02 00:00' is not", Assert.Single(Errors(problem, "queries[1].from")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_batch_item_that_is_null_or_misses_fields_is_named_by_its_index()
    {
        var clientId = await ClientAsync();
        var good = $"{{\"clientId\":\"{clientId}\",\"kpiCode\":\"POF\",{Range}}}";

        var (nullStatus, nullProblem, _) = await PostAsync("/calculate/batch", $"{{\"queries\":[{good},null]}}");
        var (missingStatus, missingProblem, _) = await PostAsync("/calculate/batch", $"{{\"queries\":[{good},{{\"clientId\":\"{clientId}\"}}]}}");

        Assert.Equal(HttpStatusCode.BadRequest, nullStatus);
        Assert.Equal("must be a query object, not null", Assert.Single(Errors(nullProblem, "queries[1]")));
        Assert.Equal(HttpStatusCode.BadRequest, missingStatus);
        Assert.Equal("is required", Assert.Single(Errors(missingProblem, "queries[1].kpiCode")));
        Assert.StartsWith("is required", Assert.Single(Errors(missingProblem, "queries[1].from")), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false, "2026-01-01T00:00:00Z", "minute", "Too many points")]
    [InlineData(true, "2026-01-01T00:00:00Z", "minute", "Too many points")]
    [InlineData(true, "1960-01-01T00:00:00Z", "day", "Invalid range")]
    public async Task A_dashboard_over_a_range_no_kpi_can_answer_is_one_400_whether_or_not_the_client_selected_kpis(
        bool noKpis, string from, string granularity, string title)
    {
        var clientId = await ClientAsync();
        if (noKpis)
        {
            using var emptied = await fixture.Http.PutAsJsonAsync($"/clients/{clientId}", new { name = "No KPIs", timeZone = "Europe/Berlin", selectedKpis = Array.Empty<string>() });
            Assert.True(emptied.IsSuccessStatusCode, await emptied.Content.ReadAsStringAsync());
        }

        var (status, problem, _) = await PostAsync("/calculate/dashboard",
            $"{{\"clientId\":\"{clientId}\",\"from\":\"{from}\",\"to\":\"2026-11-01T00:00:00Z\",\"granularity\":\"{granularity}\"}}");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(title, problem.GetProperty("title").GetString());
    }

    [Fact]
    public async Task A_dashboard_of_no_kpis_over_a_fine_range_is_an_empty_answer()
    {
        var clientId = await ClientAsync();
        using var emptied = await fixture.Http.PutAsJsonAsync($"/clients/{clientId}", new { name = "No KPIs", timeZone = "Europe/Berlin", selectedKpis = Array.Empty<string>() });
        Assert.True(emptied.IsSuccessStatusCode, await emptied.Content.ReadAsStringAsync());

        var (status, answer, _) = await PostAsync("/calculate/dashboard",
            $"{{\"clientId\":\"{clientId}\",\"from\":\"2026-10-01T00:00:00Z\",\"to\":\"2026-11-01T00:00:00Z\",\"granularity\":\"day\"}}");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(0, answer.GetArrayLength());
    }

    [Fact]
    public async Task Malformed_json_says_where_it_stopped_being_json()
    {
        var (status, problem, _) = await PostAsync("/calculate", "{\"clientId\":\"x\",\n\"kpiCode\":\"POF\",");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        var detail = problem.GetProperty("detail").GetString()!;
        Assert.StartsWith("The body is not valid JSON: ", detail, StringComparison.Ordinal);
        Assert.Contains("(line 2, byte ", detail, StringComparison.Ordinal);
        Assert.DoesNotContain("Path:", detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("xml")]
    [InlineData("csv,json")]
    public async Task An_unknown_result_format_is_refused_before_the_query_runs(string format)
    {
        var clientId = await ClientAsync();

        var (status, problem, _) = await PostAsync($"/calculate?format={Uri.EscapeDataString(format)}",
            $"{{\"clientId\":\"{clientId}\",\"kpiCode\":\"POF\",{Range},\"granularity\":\"hour\"}}");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("Unsupported format", problem.GetProperty("title").GetString());
        Assert.Contains($"'{format}'", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("many")]
    [InlineData("99999999999")] // too large for the parameter's type
    [InlineData("1.5")]
    public async Task A_query_parameter_that_is_not_a_whole_number_of_its_range_names_the_parameter_and_the_range(string recent)
    {
        var clientId = await ClientAsync();

        using var response = await fixture.Http.GetAsync($"/clients/{clientId}/kpis/POF?granularity=hour&recent={recent}");
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        // The most buckets of any granularity the live engine keeps (a day of minutes), not the parameter type's range.
        Assert.Equal($"'{recent}' is not a whole number from 1 to 1440", Assert.Single(Errors(problem, "recent")));
    }

    [Fact]
    public async Task A_trailing_comma_is_named_as_json_not_allowing_it_without_reader_advice()
    {
        var (status, problem, _) = await PostAsync("/calculate", "{\"clientId\":\"x\",\"kpiCode\":\"POF\",}");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        var detail = problem.GetProperty("detail").GetString()!;
        Assert.Contains("trailing comma", detail, StringComparison.Ordinal);
        Assert.Contains("which JSON does not allow (line 1, byte ", detail, StringComparison.Ordinal);
        Assert.DoesNotContain("reader options", detail, StringComparison.Ordinal);
        Assert.DoesNotContain("mode", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unsupported_granularity_is_named_by_its_field_also_inside_a_batch()
    {
        var clientId = await ClientAsync();

        var (status, problem, _) = await PostAsync("/calculate",
            $"{{\"clientId\":\"{clientId}\",\"kpiCode\":\"POF\",{Range},\"granularity\":\"fortnight\"}}");
        var (batchStatus, batchProblem, _) = await PostAsync("/calculate/batch",
            $"{{\"queries\":[{{\"clientId\":\"{clientId}\",\"kpiCode\":\"POF\",{Range}}},{{\"clientId\":\"{clientId}\",\"kpiCode\":\"OTD\",{Range},\"granularity\":\"fortnight\"}}]}}");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.StartsWith("'fortnight' is not one of 'minute', 'hour'", Assert.Single(Errors(problem, "granularity")), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, batchStatus);
        Assert.Equal(1, batchProblem.GetProperty("index").GetInt32());
        Assert.StartsWith("'fortnight' is not one of", Assert.Single(Errors(batchProblem, "queries[1].granularity")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_inverted_range_is_named_by_its_to_field()
    {
        var clientId = await ClientAsync();

        var (status, problem, _) = await PostAsync("/calculate",
            $"{{\"clientId\":\"{clientId}\",\"kpiCode\":\"POF\",\"from\":\"2026-11-03T00:00:00Z\",\"to\":\"2026-11-02T00:00:00Z\"}}");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("Invalid range", problem.GetProperty("title").GetString());
        Assert.Equal("must be after 'from' (2026-11-03T00:00:00.0000000+00:00)", Assert.Single(Errors(problem, "to")));
    }

    [Theory]
    [InlineData("1960-01-01T00:00:00Z", "1960-02-01T00:00:00Z", "from,to")]
    [InlineData("1969-12-31T00:00:00Z", "1970-02-01T00:00:00Z", "from")]
    [InlineData("9998-12-01T00:00:00Z", "9999-02-01T00:00:00Z", "to")]
    [InlineData("2019-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "to")] // longer than Query:MaxRange
    public async Task A_range_the_query_path_refuses_names_the_field_at_fault_on_every_endpoint(string from, string to, string fields)
    {
        var clientId = await ClientAsync();
        var range = $"\"from\":\"{from}\",\"to\":\"{to}\",\"granularity\":\"month\"";
        var expected = fields.Split(',');

        var calculate = await PostAsync("/calculate", $"{{\"clientId\":\"{clientId}\",\"kpiCode\":\"POF\",{range}}}");
        var dashboard = await PostAsync("/calculate/dashboard", $"{{\"clientId\":\"{clientId}\",{range}}}");
        using var historyResponse = await fixture.Http.GetAsync($"/clients/{clientId}/kpis/POF/history?from={from}&to={to}&granularity=month");
        var history = JsonDocument.Parse(await historyResponse.Content.ReadAsStringAsync()).RootElement;

        foreach (var (status, problem, text) in new[] { calculate, dashboard, (historyResponse.StatusCode, history, history.GetRawText()) })
        {
            Assert.True(status == HttpStatusCode.BadRequest, text);
            Assert.Equal("Invalid range", problem.GetProperty("title").GetString());
            Assert.Equal(expected, problem.GetProperty("errors").EnumerateObject().Select(e => e.Name).Order(StringComparer.Ordinal));
        }

        // In a batch, a range the gateway can judge alone is refused by the item's path, as an inverted one is; one too
        // long for the silos' Query:MaxRange is that item's error, as too many points are.
        var (batchStatus, batch, batchText) = await PostAsync("/calculate/batch",
            $"{{\"queries\":[{{\"clientId\":\"{clientId}\",\"kpiCode\":\"POF\",{Range}}},{{\"clientId\":\"{clientId}\",\"kpiCode\":\"OTD\",{range}}}]}}");
        if (from.StartsWith("2019", StringComparison.Ordinal))
        {
            Assert.True(batchStatus == HttpStatusCode.OK, batchText);
            Assert.Equal("invalidRange", batch[1].GetProperty("error").GetProperty("kind").GetString());
        }
        else
        {
            Assert.True(batchStatus == HttpStatusCode.BadRequest, batchText);
            Assert.Equal(expected.Select(f => $"queries[1].{f}"), batch.GetProperty("errors").EnumerateObject().Select(e => e.Name).Order(StringComparer.Ordinal));
        }
    }

    [Fact]
    public async Task A_batch_body_with_a_field_it_does_not_have_is_refused_even_one_the_server_computes()
    {
        var (status, problem, text) = await PostAsync("/calculate/batch", "{\"queries\":[],\"clientIds\":[\"x\"]}");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.True(problem.TryGetProperty("errors", out var errors) && errors.TryGetProperty("clientIds", out _), text);
        Assert.DoesNotContain("clientIds", Errors(problem, "clientIds")[0].Split("fields are:")[^1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_format_given_decides_over_the_accept_header()
    {
        var clientId = await ClientAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/calculate?format=json")
        {
            Content = new StringContent(
                $"{{\"clientId\":\"{clientId}\",\"kpiCode\":\"POF\",\"from\":\"2026-11-01T00:00:00Z\",\"to\":\"2026-11-02T00:00:00Z\",\"granularity\":\"day\"}}",
                Encoding.UTF8, "application/json"),
        };
        request.Headers.Accept.ParseAdd("text/csv");

        using var response = await fixture.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task A_dimension_of_only_spaces_is_refused_not_read_as_none()
    {
        var clientId = await ClientAsync();

        var (status, problem, _) = await PostAsync("/calculate",
            $"{{\"clientId\":\"{clientId}\",\"kpiCode\":\"OTD\",{Range},\"dimension\":\"  \"}}");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.StartsWith("must name a field", Assert.Single(Errors(problem, "dimension")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_batch_query_the_gateway_refuses_is_named_by_its_index_as_its_fields_are()
    {
        var clientId = await ClientAsync();
        var good = $"{{\"clientId\":\"{clientId}\",\"kpiCode\":\"POF\",{Range}}}";
        var inverted = $"{{\"clientId\":\"{clientId}\",\"kpiCode\":\"POF\",\"from\":\"2026-11-02T00:00:00Z\",\"to\":\"2026-11-01T00:00:00Z\"}}";

        var (status, problem, _) = await PostAsync("/calculate/batch", $"{{\"queries\":[{good},{inverted}]}}");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("queries[1]: Invalid range", problem.GetProperty("title").GetString());
        Assert.Equal(1, problem.GetProperty("index").GetInt32());
    }
}
