using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace AnalyticsEngine.Integration.Tests;

/// <summary>
/// What the gateway reads from an ingest request besides its rows: the charset of the body and the Idempotency-Key
/// header. Text is stored as the client wrote it, or the batch is refused; a header that cannot mean one key is refused.
/// </summary>
[Collection(AnalyticsCollection.Name)]
public sealed class IngestInputTests(AnalyticsFixture fixture)
{
    private const string TimeLogHeader = "time_log_id,staff_name,client_name,hours,rate,billable,logged_at\n";

    [Theory]
    [InlineData("iso-8859-1")]
    [InlineData("latin1")]
    [InlineData("utf-16")]
    [InlineData("utf-16be")]
    [InlineData("utf-32le")]
    [InlineData("us-ascii")]
    public async Task Csv_in_a_declared_charset_is_stored_as_the_text_it_encodes(string charset)
    {
        var clientId = await NewClientAsync("cs");
        var name = charset == "us-ascii" ? "Mueller" : "Müller";
        var encoding = charset switch
        {
            "utf-16" => new UnicodeEncoding(bigEndian: false, byteOrderMark: true),
            "utf-16be" => new UnicodeEncoding(bigEndian: true, byteOrderMark: false),
            "utf-32le" => new UTF32Encoding(bigEndian: false, byteOrderMark: false),
            "us-ascii" => Encoding.ASCII,
            _ => Encoding.Latin1,
        };
        var text = TimeLogHeader + $"t1,Ann,{name},7.5,120,true,2026-03-01T09:00:00Z\n";

        using var response = await PostCsvAsync(clientId, [.. encoding.GetPreamble(), .. encoding.GetBytes(text)], $"text/csv; charset={charset}");

        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        Assert.Equal([name], await StoredClientNamesAsync(clientId));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("us-ascii")]
    public async Task Csv_bytes_not_valid_in_the_charset_are_refused_naming_row_and_column_and_store_nothing(string? charset)
    {
        var clientId = await NewClientAsync("cs");
        var body = Encoding.ASCII.GetBytes(TimeLogHeader + "t1,Ann,Acme,7.5,120,true,2026-03-01T09:00:00Z\nt2,Bob,M~ller,7.5,120,true,2026-03-01T09:00:00Z\n");
        body[Array.IndexOf(body, (byte)'~')] = 0xFC;

        using var response = await PostCsvAsync(clientId, body, charset is null ? "text/csv" : $"text/csv; charset={charset}");

        var problem = await ProblemAsync(response, HttpStatusCode.BadRequest);
        var error = Assert.Single(problem.GetProperty("errors").EnumerateArray());
        Assert.Equal((2, "client_name"), (error.GetProperty("row").GetInt32(), error.GetProperty("field").GetString()));
        Assert.Contains("row 2, column 3", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Empty(await StoredClientNamesAsync(clientId));
    }

    [Theory]
    [InlineData("text/csv; charset=windows-1252", "windows-1252")]
    [InlineData("text/csv; charset=\"ebcdic-cp-us\"", "ebcdic-cp-us")]
    [InlineData("application/json; charset=iso-8859-1", "iso-8859-1")]
    [InlineData("application/json; charset=utf-16", "utf-16")]
    public async Task A_charset_that_cannot_be_read_gets_415_naming_it(string contentType, string charset)
    {
        var clientId = await NewClientAsync("cs");

        using var response = await PostCsvAsync(clientId, Encoding.ASCII.GetBytes(TimeLogHeader), contentType);

        var problem = await ProblemAsync(response, HttpStatusCode.UnsupportedMediaType);
        var detail = problem.GetProperty("detail").GetString()!;
        Assert.Contains($"'{charset}'", detail, StringComparison.Ordinal);
        Assert.Contains(contentType.StartsWith("text/csv", StringComparison.Ordinal) ? "iso-8859-1" : "UTF-8", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Json_that_is_not_utf8_is_refused_naming_row_and_field_and_stores_nothing()
    {
        var clientId = await NewClientAsync("js");
        var rows = TestOrder.Random(2, DateTimeOffset.UtcNow.AddMinutes(-5), 4);
        var body = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new[] { rows[0], rows[1] with { carrier = "M~ller" } }));
        body[Array.IndexOf(body, (byte)'~')] = 0xFC;

        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/json; charset=utf-8");
        using var response = await fixture.Http.PostAsync($"/ingest/orders?clientId={clientId}", content);

        var problem = await ProblemAsync(response, HttpStatusCode.BadRequest);
        var error = Assert.Single(problem.GetProperty("errors").EnumerateArray());
        Assert.Equal((2, "carrier"), (error.GetProperty("row").GetInt32(), error.GetProperty("field").GetString()));
        Assert.Contains("not valid UTF-8", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, await StoredOrdersAsync(clientId));
    }

    [Fact]
    public async Task An_event_time_in_the_calendars_last_year_is_refused_with_the_allowed_range()
    {
        var clientId = await NewClientAsync("end");
        var row = JsonSerializer.SerializeToNode(TestOrder.Random(1, DateTimeOffset.UtcNow.AddMinutes(-5), 5)[0])!.AsObject();
        row["ordered_at"] = "9999-12-31T12:00:00Z";

        using var response = await fixture.Http.PostAsync($"/ingest/orders?clientId={clientId}&policy=keep",
            new StringContent($"[{row.ToJsonString()}]", Encoding.UTF8, "application/json"));

        var problem = await ProblemAsync(response, HttpStatusCode.BadRequest);
        var error = Assert.Single(problem.GetProperty("errors").EnumerateArray());
        Assert.Equal((1, "ordered_at"), (error.GetProperty("row").GetInt32(), error.GetProperty("field").GetString()));
        Assert.Contains("up to, not including, 9999-01-01T00:00:00Z", error.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, await StoredOrdersAsync(clientId));
    }

    [Fact]
    public async Task An_empty_idempotency_key_is_refused_so_no_later_request_is_taken_for_its_replay()
    {
        var clientId = await NewClientAsync("idem");

        for (var attempt = 0; attempt < 2; attempt++)
        {
            var (status, problem) = await PostOrdersAsync(clientId, new StringValues(""));

            Assert.Equal(StatusCodes.Status400BadRequest, status);
            Assert.Contains("empty", problem.GetProperty("errors").GetProperty("Idempotency-Key")[0].GetString(), StringComparison.Ordinal);
        }

        Assert.Equal(0, await StoredOrdersAsync(clientId));
    }

    [Fact]
    public async Task Two_idempotency_keys_are_refused_rather_than_one_ignored()
    {
        var clientId = await NewClientAsync("idem");

        var (status, problem) = await PostOrdersAsync(clientId, new StringValues(["batch-1", "batch-2"]));

        Assert.Equal(StatusCodes.Status400BadRequest, status);
        Assert.Contains("2 times", problem.GetProperty("errors").GetProperty("Idempotency-Key")[0].GetString(), StringComparison.Ordinal);
        Assert.Equal(0, await StoredOrdersAsync(clientId));
    }

    [Fact]
    public async Task An_idempotency_key_reused_for_other_rows_is_a_422_that_says_when_it_was_used()
    {
        var clientId = await NewClientAsync("idem");
        async Task<HttpResponseMessage> PostAsync(int seed)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/ingest/orders?clientId={clientId}")
            {
                Content = JsonContent.Create(TestOrder.Random(2, DateTimeOffset.UtcNow.AddMinutes(-5), seed)),
            };
            request.Headers.Add("Idempotency-Key", "batch-7");
            return await fixture.Http.SendAsync(request);
        }

        using var first = await PostAsync(seed: 7);
        using var reused = await PostAsync(seed: 8);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var problem = await ProblemAsync(reused, HttpStatusCode.UnprocessableEntity);
        Assert.Equal("Idempotency-Key already used", problem.GetProperty("title").GetString());
        Assert.Contains("'batch-7' was already used", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.True(problem.TryGetProperty("keyUsedAt", out _));
        Assert.Equal(2, await StoredOrdersAsync(clientId));
    }

    [Fact]
    public async Task A_client_named_twice_in_the_query_string_is_refused_and_stores_nothing()
    {
        var first = await NewClientAsync("q2");
        var second = await NewClientAsync("q2");
        var body = Encoding.UTF8.GetBytes(TimeLogHeader + "t1,Ann,Acme,7.5,120,true,2026-03-01T09:00:00Z\n");
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse("text/csv");

        using var response = await fixture.Http.PostAsync($"/ingest/time_logs?clientId={first}&clientId={second}", content);

        var problem = await ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal("is given 2 times in the query string; give it once",
            Assert.Single(problem.GetProperty("errors").GetProperty("clientId").EnumerateArray()).GetString());
        Assert.Empty(await StoredClientNamesAsync(first));
        Assert.Empty(await StoredClientNamesAsync(second));
    }

    [Theory]
    [InlineData("/clients/{0}/kpis/POF?granularity=hour&granularity=day", "granularity")]
    [InlineData("/clients/{0}/kpis/POF/history?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z&to=2026-03-03T00:00:00Z", "to")]
    public async Task A_query_parameter_given_twice_is_refused_naming_it(string url, string parameter)
    {
        var clientId = await NewClientAsync("q2");

        using var response = await fixture.Http.GetAsync(string.Format(System.Globalization.CultureInfo.InvariantCulture, url, clientId));

        var problem = await ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(parameter, out _), problem.ToString());
    }

    [Fact]
    public async Task An_ingest_the_cluster_answers_too_late_is_a_504_saying_to_retry_and_the_retry_reports_what_it_stored()
    {
        var clientId = await NewClientAsync("late");
        var first = Encoding.UTF8.GetBytes(TimeLogHeader + "t1,Ann,Acme,7.5,120,true,2026-03-01T09:00:00Z\n");
        using (var created = await PostCsvAsync(clientId, first, "text/csv"))
        {
            Assert.True(created.StatusCode == HttpStatusCode.OK, await created.Content.ReadAsStringAsync());
        }

        await using var impatient = fixture.CreateGateway().WithWebHostBuilder(web => web.UseSetting("Orleans:ResponseTimeoutSeconds", "1"));
        using var http = AnalyticsFixture.CreateClient(impatient, fixture.Token(AnalyticsEngine.Gateway.Security.Roles.Admin, clientId));
        HttpRequestMessage Second()
        {
            var request = new HttpRequestMessage(HttpMethod.Post, $"/ingest/time_logs?clientId={clientId}")
            {
                Content = new ByteArrayContent(Encoding.UTF8.GetBytes(TimeLogHeader + "t2,Bob,Late Ltd,2,120,true,2026-03-01T10:00:00Z\n")),
            };
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse("text/csv");
            request.Headers.Add("Idempotency-Key", "late-" + clientId);
            return request;
        }

        // The partition's row is held: the ingest grain's commit waits on it past the gateway's patience.
        await using (var holder = await fixture.Database.OpenConnectionAsync())
        await using (var transaction = await holder.BeginTransactionAsync())
        {
            await using (var hold = new Npgsql.NpgsqlCommand(
                "SELECT 1 FROM ingest.partitions WHERE client_id = $1 AND object_model = 'time_logs' FOR UPDATE", holder, transaction))
            {
                hold.Parameters.AddWithValue(clientId);
                Assert.Equal(1, await hold.ExecuteScalarAsync());
            }

            using var late = Second();
            using var response = await http.SendAsync(late);
            var problem = await ProblemAsync(response, HttpStatusCode.GatewayTimeout);
            Assert.Equal("Cluster timeout", problem.GetProperty("title").GetString());
            Assert.Contains("same Idempotency-Key", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
            Assert.Equal("1", Assert.Single(response.Headers.GetValues("Retry-After")));
            await transaction.RollbackAsync();
        }

        // The first try either went on and committed (the retry is then told it was replayed) or was cancelled with
        // its caller (the retry then stores the rows): either way they are stored once.
        using var retry = Second();
        using var retried = await fixture.Http.SendAsync(retry);
        var text = await retried.Content.ReadAsStringAsync();
        Assert.True(retried.StatusCode == HttpStatusCode.OK, text);
        Assert.Equal(1, JsonDocument.Parse(text).RootElement.GetProperty("accepted").GetInt32());
        Assert.Equal(["Acme", "Late Ltd"], (await StoredClientNamesAsync(clientId)).Order(StringComparer.Ordinal));
    }

    private async Task<string> NewClientAsync(string prefix)
    {
        var clientId = TestClients.NewId(prefix);
        await TestClients.CreateAsync(fixture.Http, clientId);
        return clientId;
    }

    private async Task<HttpResponseMessage> PostCsvAsync(string clientId, byte[] body, string contentType)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        return await fixture.Http.PostAsync($"/ingest/time_logs?clientId={clientId}", content);
    }

    /// <summary>
    /// Posts orders with the Idempotency-Key header lines exactly as given, through the test server directly: HttpClient
    /// drops an empty header value and would join two into one line.
    /// </summary>
    private async Task<(int Status, JsonElement Body)> PostOrdersAsync(string clientId, StringValues idempotencyKeys)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(TestOrder.Random(2, DateTimeOffset.UtcNow.AddMinutes(-5), 6));
        var context = await fixture.Gateway.Server.SendAsync(http =>
        {
            http.Request.Method = HttpMethods.Post;
            http.Request.Path = "/ingest/orders";
            http.Request.QueryString = QueryString.Create("clientId", clientId);
            http.Request.Headers.Authorization = fixture.Http.DefaultRequestHeaders.Authorization!.ToString();
            http.Request.Headers["Idempotency-Key"] = idempotencyKeys;
            http.Request.ContentType = "application/json";
            http.Request.Body = new MemoryStream(body);
        });

        return (context.Response.StatusCode, (await JsonDocument.ParseAsync(context.Response.Body)).RootElement.Clone());
    }

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(expected == response.StatusCode, $"expected {expected}, got {response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private async Task<List<string>> StoredClientNamesAsync(string clientId)
    {
        await using var command = fixture.Database.CreateCommand("SELECT client_name FROM msp_data.time_logs WHERE client_id = $1");
        command.Parameters.AddWithValue(clientId);
        await using var reader = await command.ExecuteReaderAsync();
        var names = new List<string>();
        while (await reader.ReadAsync())
        {
            names.Add(reader.GetString(0));
        }

        return names;
    }

    private async Task<long> StoredOrdersAsync(string clientId)
    {
        await using var command = fixture.Database.CreateCommand("SELECT count(*) FROM scor_data.orders WHERE client_id = $1");
        command.Parameters.AddWithValue(clientId);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
