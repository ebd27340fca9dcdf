using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace AnalyticsEngine.Integration.Tests.Queries;

/// <summary>
/// What a caller exploring the API meets at its edges: a misspelt query parameter, a client that does not exist, a
/// refusal that names its field, CSV that says what JSON says, and KPI codes in a job as the catalog spells them.
/// </summary>
[Collection(AnalyticsCollection.Name)]
public sealed class ProbedInputTests(AnalyticsFixture fixture)
{
    private const string From = "2026-11-02T00:00:00Z";
    private const string To = "2026-11-03T00:00:00Z";

    [Fact]
    public async Task A_misspelt_query_parameter_is_refused_and_named_not_ignored()
    {
        var clientId = TestClients.NewId("qs");
        await TestClients.CreateAsync(fixture.Http, clientId);

        using var history = await fixture.Http.GetAsync($"/clients/{clientId}/kpis/POF/history?from={From}&to={To}&granularty=hour&dimensions=carrier");
        var problem = await ProblemAsync(history, HttpStatusCode.BadRequest);
        Assert.Equal("Unknown query parameter", problem.GetProperty("title").GetString());
        var errors = problem.GetProperty("errors");
        Assert.Equal(["dimensions", "granularty"], errors.EnumerateObject().Select(e => e.Name).Order(StringComparer.Ordinal));
        Assert.EndsWith("it takes: dimension, format, from, granularity, to", errors.GetProperty("granularty")[0].GetString(), StringComparison.Ordinal);

        using var jobs = await fixture.Http.GetAsync($"/batch/jobs?client={clientId}");
        Assert.Equal(["client"], (await ProblemAsync(jobs, HttpStatusCode.BadRequest)).GetProperty("errors").EnumerateObject().Select(e => e.Name));

        // Spelt right, in any case, it is read as before.
        using var right = await fixture.Http.GetAsync($"/clients/{clientId}/kpis/POF/history?from={From}&to={To}&Granularity=hour&format=json");
        Assert.Equal(HttpStatusCode.OK, right.StatusCode);
    }

    [Fact]
    public async Task A_query_parameter_sent_with_a_body_or_to_a_client_endpoint_is_refused_not_ignored()
    {
        var clientId = TestClients.NewId("qsbody");
        await TestClients.CreateAsync(fixture.Http, clientId);

        // A dashboard asked for minutes in the query string would have been answered in days, the body's default.
        using var dashboard = await fixture.Http.PostAsJsonAsync("/calculate/dashboard?granularity=minute", new { clientId, from = From, to = To });
        Assert.Equal(["granularity"], (await ProblemAsync(dashboard, HttpStatusCode.BadRequest)).GetProperty("errors").EnumerateObject().Select(e => e.Name));
        using var calculate = await fixture.Http.PostAsJsonAsync("/calculate?clientId=demo-1", new { clientId, kpiCode = "POF", from = From, to = To });
        Assert.Equal(["clientId"], (await ProblemAsync(calculate, HttpStatusCode.BadRequest)).GetProperty("errors").EnumerateObject().Select(e => e.Name));
        using var rollups = await fixture.Http.GetAsync($"/clients/{clientId}/rollups?x=1");
        Assert.Equal(["x"], (await ProblemAsync(rollups, HttpStatusCode.BadRequest)).GetProperty("errors").EnumerateObject().Select(e => e.Name));

        // What the endpoints take is still read: the format of a result.
        using var csv = await fixture.Http.PostAsJsonAsync("/calculate?format=csv", new { clientId, kpiCode = "POF", from = From, to = To });
        Assert.Equal("text/csv", csv.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task A_path_value_repeated_in_the_query_string_is_refused_not_ignored()
    {
        var clientId = TestClients.NewId("qspath");
        await TestClients.CreateAsync(fixture.Http, clientId);

        using var history = await fixture.Http.GetAsync($"/clients/{clientId}/kpis/POF/history?from={From}&to={To}&kpiCode=OTD&clientId=nobody");
        var problem = await ProblemAsync(history, HttpStatusCode.BadRequest);
        Assert.Equal("Unknown query parameter", problem.GetProperty("title").GetString());
        Assert.Equal(["clientId", "kpiCode"], problem.GetProperty("errors").EnumerateObject().Select(e => e.Name).Order(StringComparer.Ordinal));
        Assert.EndsWith("It takes: dimension, format, from, granularity, to.", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);

        using var run = await fixture.Http.GetAsync($"/batch/jobs/{Guid.NewGuid():N}/runs/1?runId=2&jobId=x");
        var runProblem = await ProblemAsync(run, HttpStatusCode.BadRequest);
        Assert.Equal(["jobId", "runId"], runProblem.GetProperty("errors").EnumerateObject().Select(e => e.Name).Order(StringComparer.Ordinal));
        Assert.EndsWith("It takes: format.", runProblem.GetProperty("detail").GetString(), StringComparison.Ordinal);

        // A query parameter of the same name where the path has none is still read: the job list's client.
        using var jobs = await fixture.Http.GetAsync($"/batch/jobs?clientId={clientId}");
        Assert.Equal(HttpStatusCode.OK, jobs.StatusCode);
    }

    [Fact]
    public async Task The_jobs_of_a_client_that_does_not_exist_are_not_found_rather_than_none()
    {
        using var response = await fixture.Http.GetAsync($"/batch/jobs?clientId={TestClients.NewId("nobody")}");

        Assert.Contains("does not exist", (await ProblemAsync(response, HttpStatusCode.NotFound)).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_dimension_the_kpi_cannot_be_drilled_by_and_too_many_points_name_their_field()
    {
        var clientId = TestClients.NewId("field");
        await TestClients.CreateAsync(fixture.Http, clientId);

        using var dimension = await fixture.Http.PostAsJsonAsync("/calculate", new { clientId, kpiCode = "OTD", from = From, to = To, dimension = "nosuch" });
        var problem = await ProblemAsync(dimension, HttpStatusCode.BadRequest);
        Assert.Equal("Invalid dimension", problem.GetProperty("title").GetString());
        Assert.Contains("nosuch", problem.GetProperty("errors").GetProperty("dimension")[0].GetString(), StringComparison.Ordinal);

        using var points = await fixture.Http.PostAsJsonAsync("/calculate", new { clientId, kpiCode = "OTD", from = "2025-01-01T00:00:00Z", to = To, granularity = "minute" });
        var tooMany = await ProblemAsync(points, HttpStatusCode.BadRequest);
        Assert.Equal("Too many points", tooMany.GetProperty("title").GetString());
        Assert.Contains("coarser granularity", tooMany.GetProperty("errors").GetProperty("granularity")[0].GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Csv_names_an_error_kind_components_and_times_as_json_does()
    {
        var clientId = TestClients.NewId("csvj");
        await TestClients.CreateAsync(fixture.Http, clientId);
        using (var created = await fixture.Http.PostAsJsonAsync($"/clients/{clientId}/custom-kpis",
            new { code = "UPS_SHARE", name = "UPS share", formula = "100 * count(orders) filter (where orders.carrier = 'UPS') / count(orders)", unit = "%" }))
        {
            Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        }

        var hour = new DateTimeOffset(2026, 11, 2, 10, 0, 0, TimeSpan.Zero);
        var orders = TestOrder.Random(4, hour, 12).Select((o, i) => o with { carrier = i % 2 == 0 ? "UPS" : "DHL" }).ToList();
        (await fixture.Http.PostAsJsonAsync($"/ingest/orders?clientId={clientId}", orders)).EnsureSuccessStatusCode();

        var csv = await CsvAsync("/calculate/batch", new
        {
            queries = new object[]
            {
                new { clientId, kpiCode = "UPS_SHARE", from = hour, to = hour.AddHours(1), granularity = "hour" },
                new { clientId, kpiCode = "NOPE", from = hour, to = hour.AddHours(1), granularity = "hour" },
            },
        });
        var records = Csv.Records(csv);

        var value = records.Single(r => r["kpi_code"] == "UPS_SHARE");
        Assert.Equal("2026-11-02T10:00:00+00:00", value["bucket_start"]);
        Assert.Contains("orders.carrier = 'UPS'", value["components"], StringComparison.Ordinal);
        Assert.StartsWith("unknownKpi: ", records.Single(r => r["kpi_code"] == "NOPE")["error"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_jobs_kpi_codes_are_kept_as_the_catalog_spells_them()
    {
        var clientId = TestClients.NewId("bcase");
        await TestClients.CreateAsync(fixture.Http, clientId);

        using var response = await fixture.Http.PostAsJsonAsync("/batch/schedule", new
        {
            clientId, kpiCodes = new[] { "pof" }, granularity = "hour", schedule = new { frequency = "daily", time = "02:30" },
        });
        var text = await response.Content.ReadAsStringAsync();

        Assert.True(response.StatusCode == HttpStatusCode.Created, text);
        Assert.Equal(["POF"], JsonDocument.Parse(text).RootElement.GetProperty("definition").GetProperty("kpiCodes").EnumerateArray().Select(c => c.GetString()));
    }

    [Fact]
    public async Task A_custom_kpi_code_is_read_in_any_case_as_a_catalog_code_is()
    {
        var clientId = TestClients.NewId("kcase");
        await TestClients.CreateAsync(fixture.Http, clientId);
        (await fixture.Http.PostAsJsonAsync($"/clients/{clientId}/custom-kpis", new { code = "DHL_VAL", name = "DHL value", formula = "sum(orders.order_value) filter (where orders.carrier = 'dhl')", unit = "" })).EnsureSuccessStatusCode();

        using var calculate = await fixture.Http.PostAsJsonAsync("/calculate", new { clientId, kpiCode = "dhl_val", from = From, to = To, granularity = "day" });
        Assert.True(calculate.StatusCode == HttpStatusCode.OK, await calculate.Content.ReadAsStringAsync());

        using var history = await fixture.Http.GetAsync($"/clients/{clientId}/kpis/Dhl_Val/history?from={From}&to={To}");
        Assert.True(history.StatusCode == HttpStatusCode.OK, await history.Content.ReadAsStringAsync());

        using var scheduled = await fixture.Http.PostAsJsonAsync("/batch/schedule", new
        {
            clientId, kpiCodes = new[] { "dhl_val" }, granularity = "hour", schedule = new { frequency = "daily", time = "02:30" },
        });
        var text = await scheduled.Content.ReadAsStringAsync();
        Assert.True(scheduled.StatusCode == HttpStatusCode.Created, text);
        var job = JsonDocument.Parse(text).RootElement;
        Assert.Equal(["DHL_VAL"], job.GetProperty("definition").GetProperty("kpiCodes").EnumerateArray().Select(c => c.GetString()));
        (await fixture.Http.DeleteAsync($"/batch/jobs/{job.GetProperty("jobId").GetString()}")).EnsureSuccessStatusCode();
    }

    [Fact]
    public async Task A_custom_kpi_a_scheduled_job_computes_is_not_deleted_until_the_job_is_unscheduled()
    {
        var clientId = TestClients.NewId("kused");
        await TestClients.CreateAsync(fixture.Http, clientId);
        (await fixture.Http.PostAsJsonAsync($"/clients/{clientId}/custom-kpis", new { code = "ORDERS", name = "Orders", formula = "count(orders)", unit = "" })).EnsureSuccessStatusCode();
        using var scheduled = await fixture.Http.PostAsJsonAsync("/batch/schedule", new
        {
            clientId, kpiCodes = new[] { "ORDERS" }, granularity = "hour", schedule = new { frequency = "daily", time = "02:30" },
        });
        var jobId = JsonDocument.Parse(await scheduled.Content.ReadAsStringAsync()).RootElement.GetProperty("jobId").GetString();

        using (var refused = await fixture.Http.DeleteAsync($"/clients/{clientId}/custom-kpis/ORDERS"))
        {
            var problem = await ProblemAsync(refused, HttpStatusCode.Conflict);
            Assert.Contains($"scheduled batch job '{jobId}'", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        Assert.Contains("ORDERS", await fixture.Http.GetStringAsync($"/clients/{clientId}/custom-kpis"), StringComparison.Ordinal);
        (await fixture.Http.DeleteAsync($"/batch/jobs/{jobId}")).EnsureSuccessStatusCode();
        using var deleted = await fixture.Http.DeleteAsync($"/clients/{clientId}/custom-kpis/ORDERS");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
    }

    private async Task<string> CsvAsync(string url, object body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = JsonContent.Create(body) };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/csv"));
        using var response = await fixture.Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        return text;
    }

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return JsonDocument.Parse(text).RootElement.Clone();
    }
}
