using System.Net;
using AnalyticsEngine.Gateway.Security;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace AnalyticsEngine.Integration.Tests.Security;

/// <summary>Per-client rate limits, security headers and CORS, as a browser or an abusive caller meets them.</summary>
[Collection(AnalyticsCollection.Name)]
public sealed class EdgeTests(AnalyticsFixture fixture)
{
    [Fact]
    public async Task Past_its_burst_a_client_gets_429_with_retry_after_while_other_clients_go_on()
    {
        await using var gateway = fixture.Gateway.WithWebHostBuilder(web => web.ConfigureAppConfiguration((_, config) =>
            config.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["RateLimits:PermitsPerSecond"] = "1",
                ["RateLimits:Burst"] = "3",
            })));
        using var http = AnalyticsFixture.CreateClient(gateway, fixture.Token(Roles.Admin, ClientAccess.AllClients));
        var busy = TestClients.NewId("busy");

        HttpResponseMessage? limited = null;
        for (var i = 0; i < 20 && limited is null; i++)
        {
            var response = await http.GetAsync($"/clients/{busy}");
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                limited = response;
            }
            else
            {
                Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
                response.Dispose();
            }
        }

        Assert.NotNull(limited);
        using (limited)
        {
            Assert.True(limited.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), $"Retry-After: {limited.Headers.RetryAfter}");
            Assert.Equal("application/problem+json", limited.Content.Headers.ContentType?.MediaType);
            Assert.Contains("retry after", await limited.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
        }

        // Another client's bucket is its own.
        using var other = await http.GetAsync($"/clients/{TestClients.NewId("calm")}");
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
    }

    [Fact]
    public async Task A_caller_cannot_spend_the_permits_of_a_client_its_token_does_not_grant()
    {
        await using var gateway = fixture.Gateway.WithWebHostBuilder(web => web.ConfigureAppConfiguration((_, config) =>
            config.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["RateLimits:PermitsPerSecond"] = "1",
                ["RateLimits:Burst"] = "3",
            })));
        var victim = TestClients.NewId("victim");
        using var attacker = AnalyticsFixture.CreateClient(gateway, fixture.Token(Roles.Viewer, "someone-else", subject: "attacker"));
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 10; i++)
        {
            using var response = await attacker.GetAsync($"/clients/{victim}");
            statuses.Add(response.StatusCode);
        }

        // The attacker runs into its own limit...
        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
        Assert.DoesNotContain(HttpStatusCode.OK, statuses);

        // ...while the victim's own callers still have their whole burst.
        using var owner = AnalyticsFixture.CreateClient(gateway, fixture.Token(Roles.Viewer, victim, subject: "owner"));
        for (var i = 0; i < 3; i++)
        {
            using var response = await owner.GetAsync($"/clients/{victim}");
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/app.js")]
    [InlineData("/kpis")]
    [InlineData("/health/live")]
    public async Task Responses_carry_the_security_headers(string path)
    {
        using var response = await fixture.Http.GetAsync(path);

        Assert.Equal("nosniff", Single(response, "X-Content-Type-Options"));
        Assert.Equal("DENY", Single(response, "X-Frame-Options"));
        Assert.Equal("no-referrer", Single(response, "Referrer-Policy"));
        var csp = Single(response, "Content-Security-Policy");
        Assert.Contains("default-src 'self'", csp);
        Assert.Contains("script-src 'self';", csp);
        Assert.Contains("connect-src 'self' ws: wss:", csp);
        Assert.Contains("frame-ancestors 'none'", csp);
    }

    [Fact]
    public async Task The_page_loads_only_what_its_content_security_policy_allows()
    {
        // Inline scripts, inline style attributes and other origins would be blocked by the CSP.
        var html = await fixture.Http.GetStringAsync("/");
        Assert.DoesNotMatch("<script(?![^>]*\\bsrc=)[^>]*>", html);
        Assert.DoesNotContain(" style=", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotMatch("(src|href)=\"(https?:)?//", html);
        var script = await fixture.Http.GetStringAsync("/app.js");
        Assert.DoesNotContain("eval(", script, StringComparison.Ordinal);
        Assert.DoesNotContain("new Function", script, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_cluster_timeout_names_the_wait_of_a_query_call_and_of_any_other()
    {
        // Which call timed out is not in the exception, so the detail must hold for a query (5 min) as for an ingest (10 s).
        var handler = fixture.Gateway.Services.GetServices<Microsoft.AspNetCore.Diagnostics.IExceptionHandler>().OfType<ClusterExceptionHandler>().Single();
        var context = new Microsoft.AspNetCore.Http.DefaultHttpContext { RequestServices = fixture.Gateway.Services };
        context.Response.Body = new MemoryStream();

        Assert.True(await handler.TryHandleAsync(context, new TimeoutException(), CancellationToken.None));

        Assert.Equal(504, context.Response.StatusCode);
        context.Response.Body.Position = 0;
        var detail = System.Text.Json.JsonDocument.Parse(context.Response.Body).RootElement.GetProperty("detail").GetString();
        Assert.StartsWith("The cluster did not answer in time: within 5 min for a query (IKpiQueryGrain.CallTimeout), 10 s for any other call (Orleans:ResponseTimeoutSeconds).",
            detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_openapi_document_declares_the_bearer_scheme()
    {
        using var anonymous = AnalyticsFixture.CreateClient(fixture.Gateway, null);
        var document = await anonymous.GetStringAsync("/openapi/v1.json");
        Assert.Contains("\"bearerFormat\": \"JWT\"", document);
    }

    [Fact]
    public async Task The_openapi_document_tells_of_the_headers_endpoints_read_themselves_and_their_answers()
    {
        using var anonymous = AnalyticsFixture.CreateClient(fixture.Gateway, null);
        using var document = System.Text.Json.JsonDocument.Parse(await anonymous.GetStringAsync("/openapi/v1.json"));
        var ingest = document.RootElement.GetProperty("paths").GetProperty("/ingest/{objectModel}").GetProperty("post");

        var header = ingest.GetProperty("parameters").EnumerateArray().Single(p => p.GetProperty("name").GetString() == "Idempotency-Key");
        Assert.Equal("header", header.GetProperty("in").GetString());
        Assert.True(ingest.GetProperty("responses").TryGetProperty("503", out _));
        Assert.True(ingest.GetProperty("responses").TryGetProperty("504", out _));

        var update = document.RootElement.GetProperty("paths").GetProperty("/clients/{clientId}").GetProperty("put");
        Assert.Contains(update.GetProperty("parameters").EnumerateArray(), p => p.GetProperty("name").GetString() == "If-Match" && p.GetProperty("in").GetString() == "header");
        Assert.True(update.GetProperty("responses").TryGetProperty("412", out _));

        var read = document.RootElement.GetProperty("paths").GetProperty("/clients/{clientId}").GetProperty("get");
        Assert.True(read.GetProperty("responses").GetProperty("200").GetProperty("headers").TryGetProperty("ETag", out _));
        var jobs = document.RootElement.GetProperty("paths").GetProperty("/batch/jobs").GetProperty("get");
        Assert.True(jobs.GetProperty("responses").GetProperty("200").GetProperty("headers").TryGetProperty("Link", out _));
        Assert.Contains(jobs.GetProperty("parameters").EnumerateArray(), p => p.GetProperty("name").GetString() == "after");
    }

    [Theory]
    [InlineData("/calculate", "post", "200", true)]
    [InlineData("/calculate/batch", "post", "200", true)]
    [InlineData("/calculate/dashboard", "post", "200", true)]
    [InlineData("/clients/{clientId}/kpis/{kpiCode}/history", "get", "200", true)]
    [InlineData("/batch/jobs/{jobId}/runs/{runId}", "get", "200", true)]
    [InlineData("/batch/schedule", "post", "201", false)]
    [InlineData("/clients/{clientId}/custom-kpis", "post", "201", false)]
    [InlineData("/clients/{clientId}/custom-kpis/{kpiCode}", "put", "200", false)]
    [InlineData("/batch/jobs/{jobId}", "get", "200", false)]
    [InlineData("/batch/jobs/{jobId}/run", "post", "202", false)]
    [InlineData("/batch/jobs/{jobId}/runs", "get", "200", false)]
    public async Task The_openapi_document_tells_each_operations_answer_and_how_to_ask_for_csv(string path, string method, string success, bool csv)
    {
        using var anonymous = AnalyticsFixture.CreateClient(fixture.Gateway, null);
        using var document = System.Text.Json.JsonDocument.Parse(await anonymous.GetStringAsync("/openapi/v1.json"));
        var operation = document.RootElement.GetProperty("paths").GetProperty(path).GetProperty(method);

        var content = operation.GetProperty("responses").GetProperty(success).GetProperty("content");
        Assert.True(content.GetProperty("application/json").TryGetProperty("schema", out _), content.ToString());
        Assert.Equal(csv, content.TryGetProperty("text/csv", out _));
        if (csv)
        {
            var format = operation.GetProperty("parameters").EnumerateArray().Single(p => p.GetProperty("name").GetString() == "format");
            Assert.Equal("query", format.GetProperty("in").GetString());
            Assert.Contains("csv", format.GetProperty("description").GetString(), StringComparison.Ordinal);
            Assert.Equal(["json", "csv"], format.GetProperty("schema").GetProperty("enum").EnumerateArray().Select(e => e.GetString()));
        }
    }

    [Theory]
    [InlineData("/clients/{clientId}", "get", "404")]
    [InlineData("/clients/{clientId}/rollups", "get", "404")]
    [InlineData("/clients/{clientId}/kpis/{kpiCode}", "get", "404")]
    [InlineData("/clients/{clientId}/kpis/{kpiCode}/window", "get", "400")]
    [InlineData("/clients/{clientId}/custom-kpis", "get", "404")]
    [InlineData("/clients/{clientId}/custom-kpis/{kpiCode}", "delete", "409")]
    [InlineData("/kpis/{code}", "get", "404")]
    [InlineData("/object-models/{code}", "get", "404")]
    [InlineData("/calculate/batch", "post", "504")]
    [InlineData("/calculate/dashboard", "post", "504")]
    public async Task The_openapi_document_tells_an_operations_refusals(string path, string method, string status)
    {
        using var anonymous = AnalyticsFixture.CreateClient(fixture.Gateway, null);
        using var document = System.Text.Json.JsonDocument.Parse(await anonymous.GetStringAsync("/openapi/v1.json"));

        var responses = document.RootElement.GetProperty("paths").GetProperty(path).GetProperty(method).GetProperty("responses");
        Assert.True(responses.TryGetProperty(status, out var problem), responses.ToString());
        Assert.True(problem.GetProperty("content").TryGetProperty("application/problem+json", out _), problem.ToString());
    }

    [Theory]
    [InlineData("CalculateRequest", "clientId,from,kpiCode,to")]
    [InlineData("CalculateDashboardRequest", "clientId,from,to")]
    [InlineData("BatchScheduleRequest", "clientId,schedule")]
    public async Task The_openapi_document_marks_required_only_the_fields_a_request_must_have(string schema, string required)
    {
        using var anonymous = AnalyticsFixture.CreateClient(fixture.Gateway, null);
        using var document = System.Text.Json.JsonDocument.Parse(await anonymous.GetStringAsync("/openapi/v1.json"));
        var definition = document.RootElement.GetProperty("components").GetProperty("schemas").GetProperty(schema);

        Assert.Equal(required, string.Join(',', definition.GetProperty("required").EnumerateArray().Select(e => e.GetString()).Order(StringComparer.Ordinal)));
    }

    [Fact]
    public async Task The_openapi_document_tells_the_query_endpoints_refusals_and_historys_required_range()
    {
        using var anonymous = AnalyticsFixture.CreateClient(fixture.Gateway, null);
        using var document = System.Text.Json.JsonDocument.Parse(await anonymous.GetStringAsync("/openapi/v1.json"));
        var paths = document.RootElement.GetProperty("paths");
        var calculate = paths.GetProperty("/calculate").GetProperty("post");
        var history = paths.GetProperty("/clients/{clientId}/kpis/{kpiCode}/history").GetProperty("get");

        foreach (var status in new[] { "400", "404", "406", "415", "422" })
        {
            Assert.True(calculate.GetProperty("responses").TryGetProperty(status, out var response), status);
            Assert.True(response.GetProperty("content").TryGetProperty("application/problem+json", out _), status);
        }

        foreach (var status in new[] { "400", "404", "406", "422" })
        {
            Assert.True(history.GetProperty("responses").TryGetProperty(status, out _), status);
        }

        var required = history.GetProperty("parameters").EnumerateArray()
            .Where(p => p.TryGetProperty("required", out var r) && r.GetBoolean()).Select(p => p.GetProperty("name").GetString()).Order(StringComparer.Ordinal);
        Assert.Equal(["clientId", "from", "kpiCode", "to"], required);
    }

    [Fact]
    public async Task Cross_origin_requests_are_refused_unless_the_origin_is_configured()
    {
        using (var request = Preflight("https://dashboards.example.com"))
        using (var response = await fixture.Http.SendAsync(request))
        {
            Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
        }

        await using var gateway = fixture.Gateway.WithWebHostBuilder(web => web.ConfigureAppConfiguration((_, config) =>
            config.AddInMemoryCollection(new Dictionary<string, string?> { ["Cors:Origins:0"] = "https://dashboards.example.com" })));
        using var http = AnalyticsFixture.CreateClient(gateway, null);
        using (var request = Preflight("https://dashboards.example.com"))
        using (var response = await http.SendAsync(request))
        {
            Assert.Equal("https://dashboards.example.com", Single(response, "Access-Control-Allow-Origin"));
        }

        using (var request = Preflight("https://evil.example"))
        using (var response = await http.SendAsync(request))
        {
            Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
        }
    }

    private static HttpRequestMessage Preflight(string origin)
    {
        var request = new HttpRequestMessage(HttpMethod.Options, "/clients");
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", "GET");
        request.Headers.Add("Access-Control-Request-Headers", "authorization");
        return request;
    }

    private static string Single(HttpResponseMessage response, string header) =>
        response.Headers.TryGetValues(header, out var values) || response.Content.Headers.TryGetValues(header, out values)
            ? Assert.Single(values)
            : throw new Xunit.Sdk.XunitException($"{header} is missing");
}
