using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace AnalyticsEngine.Integration.Tests;

/// <summary>Bad ingest bodies get a ProblemDetails that says what and where, and store nothing.</summary>
[Collection(AnalyticsCollection.Name)]
public sealed class IngestValidationTests(AnalyticsFixture fixture)
{
    [Fact]
    public async Task Malformed_json_is_refused_with_its_position_and_stores_nothing()
    {
        var clientId = TestClients.NewId("bad");
        await TestClients.CreateAsync(fixture.Http, clientId);

        var problem = await PostRawAsync(clientId, "[{\"order_id\": \"a\",, }]", HttpStatusCode.BadRequest);

        Assert.Contains("not valid JSON", problem.GetProperty("detail").GetString());
        Assert.Contains("line 1", problem.GetProperty("detail").GetString());
        Assert.True(problem.TryGetProperty("traceId", out _));
        Assert.Equal(0, await StoredRowsAsync(clientId));
    }

    [Fact]
    public async Task Wrong_types_and_missing_fields_are_listed_per_row_and_field_and_the_batch_is_refused_whole()
    {
        var clientId = TestClients.NewId("bad");
        await TestClients.CreateAsync(fixture.Http, clientId);
        var good = TestOrder.Random(1, DateTimeOffset.UtcNow.AddMinutes(-5), 1)[0];
        var body = JsonSerializer.Serialize(new object[]
        {
            good,
            new { order_id = "x", ordered_at = "yesterday", order_value = "12", promised_at = "2026-01-01T00:00:00Z", on_time = 1, in_full = true, damage_free = true, documentation_complete = true, status = "open", colour = "red" },
        });

        var problem = await PostRawAsync(clientId, body, HttpStatusCode.BadRequest);

        var errors = problem.GetProperty("errors").EnumerateArray()
            .Select(e => (Row: e.GetProperty("row").GetInt32(), Field: e.GetProperty("field").GetString()))
            .ToList();
        Assert.Contains((2, "ordered_at"), errors);
        Assert.Contains((2, "order_value"), errors);
        Assert.Contains((2, "on_time"), errors);
        Assert.Contains((2, "colour"), errors);
        Assert.DoesNotContain(errors, e => e.Row == 1);
        Assert.Equal(0, await StoredRowsAsync(clientId));
    }

    [Fact]
    public async Task Keep_policy_stores_the_valid_rows_and_reports_the_rejected_ones()
    {
        var clientId = TestClients.NewId("keep");
        await TestClients.CreateAsync(fixture.Http, clientId);
        var valid = TestOrder.Random(3, DateTimeOffset.UtcNow.AddMinutes(-5), 2);
        var body = JsonSerializer.Serialize(new object[] { valid[0], new { order_id = "broken" }, valid[1], valid[2] });

        using var response = await fixture.Http.PostAsync($"/ingest/orders?clientId={clientId}&policy=keep",
            new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var result = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(4, result.GetProperty("received").GetInt32());
        Assert.Equal(3, result.GetProperty("accepted").GetInt32());
        Assert.All(result.GetProperty("rejected").EnumerateArray(), e => Assert.Equal(2, e.GetProperty("row").GetInt32()));
        Assert.Equal(3, await StoredRowsAsync(clientId));
    }

    [Fact]
    public async Task A_retried_request_with_the_same_idempotency_key_is_stored_once()
    {
        var clientId = TestClients.NewId("idem");
        await TestClients.CreateAsync(fixture.Http, clientId);
        var body = JsonSerializer.Serialize(TestOrder.Random(5, DateTimeOffset.UtcNow.AddMinutes(-5), 3));

        for (var attempt = 0; attempt < 2; attempt++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/ingest/orders?clientId={clientId}")
            {
                Content = new StringContent(body, Encoding.UTF8, "application/json"),
            };
            request.Headers.Add("Idempotency-Key", "batch-1");
            using var response = await fixture.Http.SendAsync(request);
            var result = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(attempt == 1, result.GetProperty("replayed").GetBoolean());
            Assert.Equal(5, result.GetProperty("toSequence").GetInt64());
        }

        Assert.Equal(5, await StoredRowsAsync(clientId));
    }

    [Theory]
    [InlineData("[]", "contains no rows")]
    [InlineData("{\"order_id\": \"a\"}", "must be a JSON array")]
    [InlineData("[42]", "must be a JSON object")]
    public async Task Bodies_without_rows_are_refused(string body, string expected)
    {
        var clientId = TestClients.NewId("empty");
        await TestClients.CreateAsync(fixture.Http, clientId);

        var problem = await PostRawAsync(clientId, body, HttpStatusCode.BadRequest);

        Assert.Contains(expected, problem.GetRawText());
        Assert.Equal(0, await StoredRowsAsync(clientId));
    }

    [Fact]
    public async Task An_unknown_client_gets_404()
    {
        var problem = await PostRawAsync("nobody-" + Guid.NewGuid().ToString("N")[..8], "[]", HttpStatusCode.NotFound);
        Assert.Contains("does not exist", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task A_non_json_content_type_gets_415()
    {
        var clientId = TestClients.NewId("ct");
        await TestClients.CreateAsync(fixture.Http, clientId);
        using var response = await fixture.Http.PostAsync($"/ingest/orders?clientId={clientId}", new StringContent("a,b", Encoding.UTF8, "text/plain"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Csv_rows_of_another_object_model_are_stored_and_their_errors_name_row_and_field()
    {
        var clientId = TestClients.NewId("csv");
        await TestClients.CreateAsync(fixture.Http, clientId);
        const string csv = "time_log_id,staff_name,client_name,hours,rate,billable,logged_at\n"
            + "t1,Ann,\"Acme, Inc.\",7.5,120,true,2026-03-01T09:00:00Z\n"
            + "t2,Bob,Acme,30,120,false,2026-03-01T10:00:00Z\n";

        using var refused = await fixture.Http.PostAsync($"/ingest/time_logs?clientId={clientId}", new StringContent(csv, Encoding.UTF8, "text/csv"));
        var problem = await refused.Content.ReadFromJsonAsync<JsonElement>();
        using var kept = await fixture.Http.PostAsync($"/ingest/time_logs?clientId={clientId}&policy=keep", new StringContent(csv, Encoding.UTF8, "text/csv"));

        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        var error = Assert.Single(problem.GetProperty("errors").EnumerateArray());
        Assert.Equal((2, "hours"), (error.GetProperty("row").GetInt32(), error.GetProperty("field").GetString()));
        Assert.Equal(HttpStatusCode.OK, kept.StatusCode);
        await using var command = fixture.Database.CreateCommand("SELECT client_name, hours FROM msp_data.time_logs WHERE client_id = $1");
        command.Parameters.AddWithValue(clientId);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(("Acme, Inc.", 7.5), (reader.GetString(0), reader.GetDouble(1)));
        Assert.False(await reader.ReadAsync());
    }

    private async Task<JsonElement> PostRawAsync(string clientId, string body, HttpStatusCode expected)
    {
        using var response = await fixture.Http.PostAsync($"/ingest/orders?clientId={clientId}", new StringContent(body, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(expected == response.StatusCode, $"expected {expected}, got {response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private async Task<long> StoredRowsAsync(string clientId)
    {
        await using var command = fixture.Database.CreateCommand("SELECT count(*) FROM scor_data.orders WHERE client_id = $1");
        command.Parameters.AddWithValue(clientId);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
