using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace AnalyticsEngine.Integration.Tests.Security;

/// <summary>
/// Malformed JSON, wrong types, huge bodies and hostile strings, on every endpoint that takes input: each answers
/// a 2xx or a 4xx ProblemDetails that says what is wrong, never a 500.
/// </summary>
[Collection(AnalyticsCollection.Name)]
public sealed class HostileInputTests(AnalyticsFixture fixture)
{
    private static readonly string[] HostileStrings =
    [
        "'; DROP TABLE clients; --",
        "\" OR 1=1 --",
        new('x', 10_000),
        "a\0b",
        "\u202Eevil\u202C.exe",
        "<script>alert(1)</script>",
        "../../etc/passwd",
        "%00%2F%2E%2E",
        "\uD800 lone surrogate",
        "😀 emoji",
        " ",
        "well-formed-but-for-a-line-break\n",
    ];

    private static readonly string[] MalformedBodies =
    [
        "",
        "{",
        "[",
        "null",
        "42",
        "\"text\"",
        "{\"clientId\": 5, \"name\": true, \"timeZone\": [], \"selectedKpis\": \"POF\"}",
        "{\"clientId\": {\"$ne\": null}}",
        "{\"fieldMappings\": [42]}",
        "{\"clientId\": \"nulls\", \"name\": \"n\", \"selectedKpis\": [null], \"fieldMappings\": [null]}",
        "{\"name\": \"n\", \"fieldMappings\": [{\"objectModel\": null, \"sourceField\": null, \"modelField\": null}]}",
        "{\"orders\": \"many\", \"from\": \"yesterday\"}",
        "{\"clients\": 1e400, \"ordersPerSecond\": -1}",
        "{\"clients\": \"ten\"}",
        "[{\"order_id\": 1, \"ordered_at\": 5}]",
        "[{\"order_id\": \"a\"},,]",
        "{\"a\":1,\"a\":2}",
        new string('[', 5_000) + new string(']', 5_000),
    ];

    private static readonly (HttpMethod Method, string Url)[] BodyEndpoints =
    [
        (HttpMethod.Post, "/clients"),
        (HttpMethod.Put, "/clients/{client}"),
        (HttpMethod.Post, "/ingest/orders?clientId={client}"),
        (HttpMethod.Post, "/demo/generate"),
        (HttpMethod.Post, "/demo/feed"),
        (HttpMethod.Post, "/formulas/check"),
        (HttpMethod.Post, "/clients/{client}/custom-kpis"),
    ];

    [Fact]
    public async Task Hostile_strings_in_routes_and_queries_never_cause_a_500()
    {
        var client = await ClientAsync();
        var failures = new List<string>();
        foreach (var hostile in HostileStrings)
        {
            var h = Uri.EscapeDataString(hostile);
            var orders = JsonSerializer.Serialize(TestOrder.Random(1, DateTimeOffset.UtcNow.AddMinutes(-5), 1));
            await CheckAsync(failures, HttpMethod.Get, $"/clients/{client}/kpis/POF?granularity={h}");
            await CheckAsync(failures, HttpMethod.Get, $"/clients/{client}/kpis/POF?recent={h}");
            await CheckAsync(failures, HttpMethod.Post, $"/ingest/orders?clientId={h}", orders);
            await CheckAsync(failures, HttpMethod.Post, $"/ingest/orders?clientId={client}&policy={h}", orders);
            if (hostile.Any(char.IsControl))
            {
                continue; // HTTP clients refuse control characters in a path; queries and bodies carry them above and below.
            }

            await CheckAsync(failures, HttpMethod.Get, $"/kpis/{h}");
            await CheckAsync(failures, HttpMethod.Get, $"/kpis/module/{h}");
            await CheckAsync(failures, HttpMethod.Get, $"/object-models/{h}");
            await CheckAsync(failures, HttpMethod.Get, $"/clients/{h}");
            await CheckAsync(failures, HttpMethod.Get, $"/clients/{h}/kpis/POF");
            await CheckAsync(failures, HttpMethod.Get, $"/clients/{client}/kpis/{h}");
            await CheckAsync(failures, HttpMethod.Get, $"/clients/{h}/custom-kpis");
            await CheckAsync(failures, HttpMethod.Put, $"/clients/{client}/custom-kpis/{h}", Json(new { name = "n", formula = "count(orders)" }));
            await CheckAsync(failures, HttpMethod.Delete, $"/clients/{client}/custom-kpis/{h}");
            await CheckAsync(failures, HttpMethod.Put, $"/clients/{h}", "{\"name\": \"x\"}");
            await CheckAsync(failures, HttpMethod.Post, $"/ingest/{h}?clientId={client}", orders);
        }

        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    [Fact]
    public async Task Hostile_strings_in_bodies_never_cause_a_500()
    {
        var client = await ClientAsync();
        var failures = new List<string>();
        foreach (var hostile in HostileStrings)
        {
            foreach (var body in ClientBodies(TestClients.NewId("h"), hostile))
            {
                await CheckAsync(failures, HttpMethod.Post, "/clients", body);
            }

            foreach (var body in ClientBodies(null, hostile))
            {
                await CheckAsync(failures, HttpMethod.Put, $"/clients/{client}", body);
            }

            await CheckAsync(failures, HttpMethod.Post, "/clients", Json(new { clientId = hostile, name = "n", timeZone = "UTC" }));
            foreach (var field in new[] { "order_id", "status", "carrier", "ordered_at", "order_value" })
            {
                var row = JsonSerializer.SerializeToNode(TestOrder.Random(1, DateTimeOffset.UtcNow.AddMinutes(-5), 2)[0])!.AsObject();
                row[field] = hostile;
                await CheckAsync(failures, HttpMethod.Post, $"/ingest/orders?clientId={client}&policy=keep", $"[{row.ToJsonString()}]");
            }

            await CheckAsync(failures, HttpMethod.Post, "/demo/generate", Json(new { clientId = hostile, orders = 1 }));
            await CheckAsync(failures, HttpMethod.Post, "/formulas/check", Json(new { formula = hostile }));
            await CheckAsync(failures, HttpMethod.Post, "/formulas/check", Json(new { formula = $"count(orders) filter (where orders.status = '{hostile}')" }));
            await CheckAsync(failures, HttpMethod.Post, $"/clients/{client}/custom-kpis", Json(new { code = hostile, name = "n", formula = "count(orders)" }));
            await CheckAsync(failures, HttpMethod.Post, $"/clients/{client}/custom-kpis", Json(new { code = "SEC_HOSTILE", name = hostile, description = hostile, formula = hostile, unit = hostile, module = hostile }));
            await CheckAsync(failures, HttpMethod.Post, $"/clients/{client}/custom-kpis", Json(new { code = "SEC_HOSTILE_TEXT", name = hostile, description = hostile, formula = "count(orders)", unit = hostile, module = hostile }));
            await fixture.Http.DeleteAsync($"/clients/{client}/custom-kpis/SEC_HOSTILE_TEXT");
            using var idempotent = new HttpRequestMessage(HttpMethod.Post, $"/ingest/orders?clientId={client}")
            {
                Content = new StringContent(JsonSerializer.Serialize(TestOrder.Random(1, DateTimeOffset.UtcNow.AddMinutes(-5), 3)), Encoding.UTF8, "application/json"),
            };
            if (idempotent.Headers.TryAddWithoutValidation("Idempotency-Key", hostile) && !hostile.Any(char.IsControl))
            {
                await CheckAsync(failures, idempotent);
            }
        }

        // Put the shared client back the way the other tests expect it.
        using var restore = await fixture.Http.PutAsJsonAsync($"/clients/{client}", new { name = "Test " + client, timeZone = "Europe/Berlin", selectedKpis = new[] { "POF", "OTD" } });
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    [Fact]
    public async Task Malformed_json_and_wrong_types_get_a_4xx_that_says_why()
    {
        var client = await ClientAsync();
        var failures = new List<string>();
        foreach (var (method, url) in BodyEndpoints)
        {
            foreach (var body in MalformedBodies)
            {
                var status = await CheckAsync(failures, method, url.Replace("{client}", client, StringComparison.Ordinal), body);
                if (status is >= 200 and < 300 && url.StartsWith("/demo/feed", StringComparison.Ordinal))
                {
                    await fixture.Http.DeleteAsync("/demo/feed");
                }
            }

            using var invalidUtf8 = new HttpRequestMessage(method, url.Replace("{client}", client, StringComparison.Ordinal))
            {
                Content = new ByteArrayContent([0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x3A, 0x31, 0x7D]),
            };
            invalidUtf8.Content.Headers.ContentType = new("application/json");
            await CheckAsync(failures, invalidUtf8);
        }

        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    [Fact]
    public async Task A_body_above_the_limit_gets_413_on_every_endpoint()
    {
        var client = await ClientAsync();
        var failures = new List<string>();
        var padding = new string('x', (int)AnalyticsEngine.Gateway.Security.GatewaySecurity.MaxJsonBodyBytes + 1024);
        var huge = $"{{\"clientId\": \"{TestClients.NewId("huge")}\", \"name\": \"{padding}\"}}";
        foreach (var (method, url) in BodyEndpoints.Where(e => !e.Url.StartsWith("/ingest", StringComparison.Ordinal)))
        {
            var status = await CheckAsync(failures, method, url.Replace("{client}", client, StringComparison.Ordinal), huge);
            if (status != StatusCodes.Status413PayloadTooLarge)
            {
                failures.Add($"{method} {url}: expected 413 for a {huge.Length}-byte body, got {status}");
            }
        }

        // Ingest allows far more (Gateway:MaxIngestBodyBytes, 32 MiB by default), and no more.
        var hugeIngest = "[" + string.Join(',', Enumerable.Repeat($"{{\"order_id\": \"{new string('y', 1000)}\"}}", 34 * 1024)) + "]";
        var ingestStatus = await CheckAsync(failures, HttpMethod.Post, $"/ingest/orders?clientId={client}", hugeIngest);
        if (ingestStatus != StatusCodes.Status413PayloadTooLarge)
        {
            failures.Add($"ingest: expected 413 for a {hugeIngest.Length}-byte body, got {ingestStatus}");
        }

        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    [Theory]
    [InlineData("/clients", "{{\"clientId\":\"{0}\\n\",\"name\":\"n\",\"timeZone\":\"UTC\"}}")]
    [InlineData("/calculate", "{{\"clientId\":\"{0}\\n\",\"kpiCode\":\"POF\",\"from\":\"2026-11-01T00:00:00Z\",\"to\":\"2026-11-02T00:00:00Z\",\"granularity\":\"day\"}}")]
    public async Task A_client_id_with_a_trailing_line_break_is_refused_as_no_client_id(string url, string body)
    {
        // A line break would end the Location header and the cache key the id goes into; "$" let it through.
        var clientId = TestClients.NewId("nl");

        using var response = await fixture.Http.PostAsync(url,
            new StringContent(string.Format(System.Globalization.CultureInfo.InvariantCulture, body, clientId), Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("Invalid client id", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("title").GetString());
        using var listed = await fixture.Http.GetAsync($"/clients/{Uri.EscapeDataString(clientId + "\n")}");
        Assert.NotEqual(HttpStatusCode.OK, listed.StatusCode);
    }

    [Fact]
    public async Task A_long_input_is_not_echoed_back_whole()
    {
        var client = await ClientAsync();
        var code = new string('X', 100_000);

        using var response = await fixture.Http.PostAsync("/calculate", new StringContent(
            $"{{\"clientId\":\"{client}\",\"kpiCode\":\"{code}\",\"from\":\"2026-11-01T00:00:00Z\",\"to\":\"2026-11-02T00:00:00Z\"}}",
            Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var detail = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("detail").GetString()!;
        Assert.InRange(detail.Length, 1000, 1100);
        Assert.EndsWith("more characters)", detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("GET", "/no/such/path", "Not found")]
    [InlineData("DELETE", "/kpis/POF", "Method not allowed")]
    public async Task The_frameworks_own_problems_have_titles_in_the_products_case(string method, string url, string title)
    {
        using var response = await fixture.Http.SendAsync(new HttpRequestMessage(new HttpMethod(method), url));

        Assert.Equal(title, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("title").GetString());
    }

    [Fact]
    public async Task A_body_that_is_not_json_gets_415_or_400()
    {
        var failures = new List<string>();
        foreach (var (method, url) in BodyEndpoints)
        {
            var client = await ClientAsync();
            using var request = new HttpRequestMessage(method, url.Replace("{client}", client, StringComparison.Ordinal))
            {
                Content = new StringContent("clientId=x&name=y", Encoding.UTF8, "application/x-www-form-urlencoded"),
            };
            var status = await CheckAsync(failures, request);
            if (status is not (StatusCodes.Status415UnsupportedMediaType or StatusCodes.Status400BadRequest))
            {
                failures.Add($"{method} {url}: expected 415 or 400 for a form body, got {status}");
            }
        }

        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    private static IEnumerable<string> ClientBodies(string? clientId, string hostile)
    {
        yield return Json(new { clientId, name = hostile, timeZone = "UTC", selectedKpis = new[] { "POF" } });
        yield return Json(new { clientId, name = "n", timeZone = hostile, selectedKpis = new[] { "POF" } });
        yield return Json(new { clientId, name = "n", timeZone = "UTC", selectedKpis = new[] { hostile } });
        yield return Json(new
        {
            clientId,
            name = "n",
            timeZone = "UTC",
            selectedKpis = new[] { "POF" },
            fieldMappings = new[] { new { objectModel = hostile, sourceField = hostile, modelField = hostile } },
        });
    }

    private static string Json<T>(T value) => JsonSerializer.Serialize(value);

    private static readonly Lock Gate = new();
    private static Task<string>? s_client;

    /// <summary>A client of its own: these tests put odd values into its configuration.</summary>
    private Task<string> ClientAsync()
    {
        lock (Gate)
        {
            return s_client ??= CreateAsync(fixture);
        }

        static async Task<string> CreateAsync(AnalyticsFixture fixture)
        {
            var id = TestClients.NewId("hostile");
            await TestClients.CreateAsync(fixture.Http, id);
            return id;
        }
    }

    private async Task<int> CheckAsync(List<string> failures, HttpMethod method, string url, string? body = null)
    {
        using var request = new HttpRequestMessage(method, url);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        return await CheckAsync(failures, request);
    }

    /// <summary>Sends the request as an admin of every client; records a failure unless it is a 2xx or a 4xx ProblemDetails with a reason.</summary>
    private async Task<int> CheckAsync(List<string> failures, HttpRequestMessage request)
    {
        var what = $"{request.Method} {Shorten(request.RequestUri?.OriginalString)}";
        HttpResponseMessage response;
        try
        {
            response = await fixture.Http.SendAsync(request);
        }
        catch (Exception ex) when (ex is HttpRequestException or InvalidOperationException)
        {
            failures.Add($"{what}: the request failed: {ex.Message}");
            return 0;
        }

        using (response)
        {
            var status = (int)response.StatusCode;
            var text = await response.Content.ReadAsStringAsync();
            if (status >= 500)
            {
                failures.Add($"{what}: {status} {Shorten(text)}");
            }
            else if (status >= 400)
            {
                if (response.Content.Headers.ContentType?.MediaType != "application/problem+json")
                {
                    failures.Add($"{what}: {status} without ProblemDetails: {Shorten(text)}");
                }
                else
                {
                    var problem = JsonDocument.Parse(text).RootElement;
                    var hasReason = problem.TryGetProperty("errors", out _)
                        || (problem.TryGetProperty("detail", out var detail) && !string.IsNullOrWhiteSpace(detail.GetString()));
                    if (!hasReason)
                    {
                        failures.Add($"{what}: {status} ProblemDetails without a reason: {Shorten(text)}");
                    }
                }
            }

            return status;
        }
    }

    private static string Shorten(string? text) => text is null ? "" : text.Length <= 300 ? text : text[..300] + "…";
}
