using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using AnalyticsEngine.Gateway.Security;

namespace AnalyticsEngine.Integration.Tests.Queries;

/// <summary>Scheduled batches over HTTP: schedule, list, run now, read the stored results, unschedule, and refusals.</summary>
[Collection(AnalyticsCollection.Name)]
public sealed class BatchJobApiTests(AnalyticsFixture fixture)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    /// <summary>A client with orders every three hours over the last three days, so "yesterday" always has some.</summary>
    private async Task<string> ClientWithOrdersAsync()
    {
        var clientId = TestClients.NewId("batch");
        await TestClients.CreateAsync(fixture.Http, clientId);
        var now = DateTimeOffset.UtcNow;
        var start = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, 0, 0, TimeSpan.Zero);
        var orders = Enumerable.Range(1, 24).SelectMany(i => TestOrder.Random(5, start.AddHours(-3 * i), 1000 + i)).ToList();
        using var response = await fixture.Http.PostAsJsonAsync($"/ingest/orders?clientId={clientId}", orders);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        return clientId;
    }

    private async Task<JsonElement> ScheduleAsync(object body)
    {
        using var response = await fixture.Http.PostAsJsonAsync("/batch/schedule", body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, text);
        var job = JsonDocument.Parse(text).RootElement.Clone();
        Assert.Equal($"/batch/jobs/{job.GetProperty("jobId").GetString()}", response.Headers.Location?.OriginalString);
        return job;
    }

    /// <summary>Starts a run and polls its result until it is no longer running.</summary>
    private async Task<JsonElement> RunAndWaitAsync(string jobId)
    {
        using var started = await fixture.Http.PostAsync($"/batch/jobs/{jobId}/run", null);
        var text = await started.Content.ReadAsStringAsync();
        Assert.True(started.StatusCode == HttpStatusCode.Accepted, text);
        var run = JsonDocument.Parse(text).RootElement;
        var resultsUrl = run.GetProperty("resultsUrl").GetString()!;
        Assert.Equal(resultsUrl, started.Headers.Location?.OriginalString);

        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            var result = await fixture.Http.GetFromJsonAsync<JsonElement>(resultsUrl);
            if (result.GetProperty("run").GetProperty("status").GetString() != "running")
            {
                return result;
            }

            Assert.True(DateTime.UtcNow < deadline, $"The run at {resultsUrl} did not finish within {Patience}.");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task A_jobs_next_run_follows_its_clients_new_time_zone()
    {
        var clientId = TestClients.NewId("bzone");
        await TestClients.CreateAsync(fixture.Http, clientId, "Europe/Berlin", "POF");
        var job = await ScheduleAsync(new
        {
            clientId, name = "Daily POF", kpiCodes = new[] { "POF" }, granularity = "hour",
            schedule = new { frequency = "daily", time = "02:30" },
        });
        Assert.Equal("02:30", LocalTime(job.GetProperty("nextRunAt").GetDateTimeOffset(), "Europe/Berlin"));

        using (var moved = await fixture.Http.PutAsJsonAsync($"/clients/{clientId}", new { name = "Test " + clientId, timeZone = "America/New_York", selectedKpis = new[] { "POF" } }))
        {
            Assert.True(moved.IsSuccessStatusCode, await moved.Content.ReadAsStringAsync());
        }

        var next = (await fixture.Http.GetFromJsonAsync<JsonElement>($"/batch/jobs/{job.GetProperty("jobId").GetString()}")).GetProperty("nextRunAt").GetDateTimeOffset();
        Assert.Equal("02:30", LocalTime(next, "America/New_York"));
        Assert.InRange(next, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(1));
    }

    [Fact]
    public async Task A_custom_kpi_a_scheduled_job_computes_is_not_deleted_and_the_refusal_names_ten_jobs_and_counts_the_rest()
    {
        var clientId = TestClients.NewId("binuse");
        await TestClients.CreateAsync(fixture.Http, clientId);
        (await fixture.Http.PostAsJsonAsync($"/clients/{clientId}/custom-kpis", new { code = "CK", name = "Count", formula = "count(orders)" })).EnsureSuccessStatusCode();
        var jobIds = new List<string>();
        for (var i = 0; i < 12; i++)
        {
            var job = await ScheduleAsync(new { clientId, kpiCodes = new[] { "CK" }, schedule = new { frequency = "daily", time = "06:00" } });
            jobIds.Add(job.GetProperty("jobId").GetString()!);
        }

        using (var refused = await fixture.Http.DeleteAsync($"/clients/{clientId}/custom-kpis/CK"))
        {
            Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
            var detail = (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString()!;
            Assert.Equal(10, jobIds.Count(id => detail.Contains($"'{id}'", StringComparison.Ordinal)));
            Assert.Contains("and 2 more", detail, StringComparison.Ordinal);
        }

        foreach (var jobId in jobIds)
        {
            (await fixture.Http.DeleteAsync($"/batch/jobs/{jobId}")).EnsureSuccessStatusCode();
        }

        using var deleted = await fixture.Http.DeleteAsync($"/clients/{clientId}/custom-kpis/CK");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
    }

    [Fact]
    public async Task The_job_list_comes_in_pages_each_naming_the_next_in_its_link_header()
    {
        var clientId = TestClients.NewId("bpage");
        await TestClients.CreateAsync(fixture.Http, clientId);
        var scheduled = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var job = await ScheduleAsync(new { clientId, kpiCodes = new[] { "POF" }, schedule = new { frequency = "hourly", minute = i } });
            scheduled.Add(job.GetProperty("jobId").GetString()!);
        }

        var listed = new List<string>();
        var pages = 0;
        string? next = $"/batch/jobs?clientId={clientId}&limit=2";
        while (next is not null)
        {
            using var page = await fixture.Http.GetAsync(next);
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            listed.AddRange((await page.Content.ReadFromJsonAsync<JsonElement[]>())!.Select(j => j.GetProperty("jobId").GetString()!));
            pages++;
            next = page.Headers.TryGetValues("Link", out var links) ? NextLink(links.Single()) : null;
        }

        Assert.Equal(2, pages);
        Assert.Equal(scheduled.AsEnumerable().Reverse(), listed);

        foreach (var (query, field) in new[] { ("limit=0", "limit"), ("limit=1001", "limit"), ("after=yesterday", "after"), ("after=12_", "after"), ("after=_0f3c", "after"),
            ("after=-5_abc", "after"), ($"after=-5_{scheduled[0]}", "after"), ($"after=+5_{scheduled[0]}", "after"), ($"after=005_{scheduled[0]}", "after"),
            ("after=5_ABC", "after"), ($"after=5_{scheduled[0].ToUpperInvariant()}", "after"), ($"after=5_{scheduled[0]}x", "after") })
        {
            using var refused = await fixture.Http.GetAsync($"/batch/jobs?clientId={clientId}&{query}");
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            var problem = await refused.Content.ReadFromJsonAsync<JsonElement>();
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
        }
    }

    /// <summary>The address of <c>rel="next"</c> in a Link header of one link.</summary>
    private static string NextLink(string link)
    {
        Assert.EndsWith("; rel=\"next\"", link, StringComparison.Ordinal);
        return link[1..link.IndexOf('>', StringComparison.Ordinal)];
    }

    private static string LocalTime(DateTimeOffset at, string zone) =>
        TimeZoneInfo.ConvertTime(at, TimeZoneInfo.FindSystemTimeZoneById(zone)).ToString("HH:mm", System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public async Task A_job_is_listed_runs_now_and_its_results_equal_a_one_time_query_in_json_and_csv()
    {
        var clientId = await ClientWithOrdersAsync();
        var job = await ScheduleAsync(new
        {
            clientId, name = "Daily POF and OTD", kpiCodes = new[] { "POF", "OTD" }, granularity = "hour",
            schedule = new { frequency = "daily", time = "02:30" },
        });
        var jobId = job.GetProperty("jobId").GetString()!;
        Assert.Equal("scheduled", job.GetProperty("status").GetString());
        var nextRun = job.GetProperty("nextRunAt").GetDateTimeOffset();
        Assert.InRange(nextRun, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(1));
        Assert.Equal(new DateTimeOffset(2000, 1, 1, 2, 30, 0, TimeSpan.Zero).TimeOfDay,
            TimeZoneInfo.ConvertTime(nextRun, TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin")).TimeOfDay);

        var listed = await fixture.Http.GetFromJsonAsync<JsonElement[]>($"/batch/jobs?clientId={clientId}");
        var entry = Assert.Single(listed!);
        Assert.Equal(jobId, entry.GetProperty("jobId").GetString());
        Assert.Equal(JsonValueKind.Null, entry.GetProperty("lastRun").ValueKind);

        var result = await RunAndWaitAsync(jobId);
        var run = result.GetProperty("run");
        Assert.Equal("succeeded", run.GetProperty("status").GetString());
        Assert.Equal("manual", run.GetProperty("trigger").GetString());
        var from = run.GetProperty("from").GetDateTimeOffset();
        var to = run.GetProperty("to").GetDateTimeOffset();
        Assert.InRange((to - from).TotalHours, 23, 25); // yesterday in Berlin

        // The stored results are what a one-time query answers for the same range, to the byte.
        var results = result.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(["POF", "OTD"], results.Select(r => r.GetProperty("kpiCode").GetString()));
        var queries = new[] { "POF", "OTD" }.Select(kpiCode => new { clientId, kpiCode, from, to, granularity = "hour" }).ToArray();
        for (var i = 0; i < queries.Length; i++)
        {
            using var calculated = await fixture.Http.PostAsJsonAsync("/calculate", queries[i]);
            Assert.Equal(await calculated.Content.ReadAsStringAsync(), results[i].GetRawText());
        }

        Assert.Contains(results[0].GetProperty("series")[0].GetProperty("values").EnumerateArray(), v => v.GetProperty("eventCount").GetInt64() > 0);

        using var batchCsv = await fixture.Http.PostAsJsonAsync("/calculate/batch?format=csv", new { queries });
        var expectedCsv = await batchCsv.Content.ReadAsStringAsync();
        var csvUrl = run.GetProperty("csvUrl").GetString()!;
        Assert.Equal(expectedCsv, await fixture.Http.GetStringAsync(csvUrl));
        using var byAccept = new HttpRequestMessage(HttpMethod.Get, run.GetProperty("resultsUrl").GetString());
        byAccept.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/csv"));
        using var acceptResponse = await fixture.Http.SendAsync(byAccept);
        Assert.Equal("text/csv", acceptResponse.Content.Headers.ContentType?.MediaType);
        Assert.Equal(expectedCsv, await acceptResponse.Content.ReadAsStringAsync());
        Assert.Equal(1 + (2 * (int)Math.Round((to - from).TotalHours)), Csv.Parse(expectedCsv).Count);

        // The listing now shows where the results are.
        var after = await fixture.Http.GetFromJsonAsync<JsonElement>($"/batch/jobs/{jobId}");
        Assert.Equal(run.GetProperty("resultsUrl").GetString(), after.GetProperty("lastRun").GetProperty("resultsUrl").GetString());
        var runs = await fixture.Http.GetFromJsonAsync<JsonElement[]>($"/batch/jobs/{jobId}/runs");
        Assert.Equal(1, Assert.Single(runs!).GetProperty("runId").GetInt64());
    }

    [Fact]
    public async Task A_dashboard_job_with_a_dimension_computes_the_selected_kpis_per_value()
    {
        var clientId = await ClientWithOrdersAsync();
        var job = await ScheduleAsync(new
        {
            clientId, dashboard = true, dimension = "carrier", range = new { unit = "hour", count = 72 },
            schedule = new { frequency = "hourly", minute = 5 },
        });

        var result = await RunAndWaitAsync(job.GetProperty("jobId").GetString()!);
        Assert.Equal("succeeded", result.GetProperty("run").GetProperty("status").GetString());
        var results = result.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(["POF", "OTD"], results.Select(r => r.GetProperty("kpiCode").GetString()));
        Assert.All(results, r => Assert.Equal("DHL", r.GetProperty("series")[0].GetProperty("dimensionValue").GetString()));
        Assert.All(results, r => Assert.Equal("range", r.GetProperty("granularity").GetString()));
        var value = results[0].GetProperty("series")[0].GetProperty("values")[0];
        Assert.InRange(value.GetProperty("eventCount").GetInt64(), 5 * 23, 5 * 24);
    }

    [Fact]
    public async Task An_unscheduled_job_leaves_the_list_keeps_its_runs_and_refuses_to_run()
    {
        var clientId = await ClientWithOrdersAsync();
        var jobId = (await ScheduleAsync(new { clientId, kpiCodes = new[] { "OTD" }, schedule = new { frequency = "weekly", dayOfWeek = "friday", time = "06:00" } }))
            .GetProperty("jobId").GetString()!;
        var result = await RunAndWaitAsync(jobId);
        var week = result.GetProperty("run").GetProperty("to").GetDateTimeOffset() - result.GetProperty("run").GetProperty("from").GetDateTimeOffset();
        Assert.InRange(week.TotalHours, 167, 169); // last week, Monday to Monday in Berlin

        using var deleted = await fixture.Http.DeleteAsync($"/batch/jobs/{jobId}");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);

        Assert.Empty((await fixture.Http.GetFromJsonAsync<JsonElement[]>($"/batch/jobs?clientId={clientId}"))!);
        var job = await fixture.Http.GetFromJsonAsync<JsonElement>($"/batch/jobs/{jobId}");
        Assert.Equal("unscheduled", job.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, job.GetProperty("nextRunAt").ValueKind);
        using var stillThere = await fixture.Http.GetAsync($"/batch/jobs/{jobId}/runs/1");
        Assert.Equal(HttpStatusCode.OK, stillThere.StatusCode);
        using var run = await fixture.Http.PostAsync($"/batch/jobs/{jobId}/run", null);
        Assert.Equal(HttpStatusCode.Conflict, run.StatusCode);
        Assert.Equal("application/problem+json", run.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task A_viewer_lists_only_the_jobs_of_the_clients_its_token_grants()
    {
        var mine = await ClientWithOrdersAsync();
        var theirs = await ClientWithOrdersAsync();
        var myJob = (await ScheduleAsync(new { clientId = mine, kpiCodes = new[] { "POF" }, schedule = new { frequency = "daily" } })).GetProperty("jobId").GetString();
        var theirJob = (await ScheduleAsync(new { clientId = theirs, kpiCodes = new[] { "POF" }, schedule = new { frequency = "daily" } })).GetProperty("jobId").GetString();

        using var viewer = fixture.CreateClient(fixture.Token(Roles.Viewer, mine));
        var listed = (await viewer.GetFromJsonAsync<JsonElement[]>("/batch/jobs"))!.Select(j => j.GetProperty("jobId").GetString()).ToList();
        Assert.Equal([myJob], listed);

        using var forbidden = await viewer.GetAsync($"/batch/jobs/{theirJob}");
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        using var forbiddenList = await viewer.GetAsync($"/batch/jobs?clientId={theirs}");
        Assert.Equal(HttpStatusCode.Forbidden, forbiddenList.StatusCode);
        using var notAJob = await viewer.GetAsync("/batch/jobs/not-a-job-id");
        Assert.Equal(HttpStatusCode.NotFound, notAJob.StatusCode);
    }

    public static TheoryData<string, string> BadJobs() => new()
    {
        { """{ "clientId": "{client}", "kpiCodes": ["POF", "NO_SUCH_KPI"], "schedule": { "frequency": "daily" } }""", "kpiCodes" },
        { """{ "clientId": "{client}", "schedule": { "frequency": "daily" } }""", "kpiCodes" },
        { """{ "clientId": "{client}", "kpiCodes": ["POF"], "dashboard": true, "schedule": { "frequency": "daily" } }""", "kpiCodes" },
        { """{ "clientId": "nobody-{client}", "kpiCodes": ["POF"], "schedule": { "frequency": "daily" } }""", "clientId" },
        { """{ "clientId": "{client}", "kpiCodes": ["POF"] }""", "schedule" },
        { """{ "clientId": "{client}", "kpiCodes": ["POF"], "schedule": { "frequency": "monthly" } }""", "schedule.frequency" },
        { """{ "clientId": "{client}", "kpiCodes": ["POF"], "schedule": { "frequency": "daily", "time": "25:00" } }""", "schedule.time" },
        { """{ "clientId": "{client}", "kpiCodes": ["POF"], "schedule": { "frequency": "hourly", "minute": 60 } }""", "schedule.minute" },
        { """{ "clientId": "{client}", "kpiCodes": ["POF"], "schedule": { "frequency": "daily", "dayOfWeek": "monday" } }""", "schedule.dayOfWeek" },
        { """{ "clientId": "{client}", "kpiCodes": ["POF"], "schedule": { "frequency": "weekly", "dayOfWeek": "someday" } }""", "schedule.dayOfWeek" },
        { """{ "clientId": "{client}", "kpiCodes": ["POF"], "range": { "unit": "day", "count": 0 }, "schedule": { "frequency": "daily" } }""", "range.count" },
        { """{ "clientId": "{client}", "kpiCodes": ["POF"], "range": { "unit": "day", "count": -3 }, "schedule": { "frequency": "daily" } }""", "range.count" },
        { """{ "clientId": "{client}", "kpiCodes": ["POF"], "range": { "unit": "day", "count": 5000 }, "schedule": { "frequency": "daily" } }""", "range.count" },
        { """{ "clientId": "{client}", "kpiCodes": ["POF"], "range": { "unit": "year" }, "schedule": { "frequency": "daily" } }""", "range.unit" },
        { """{ "clientId": "{client}", "kpiCodes": ["POF"], "granularity": "second", "schedule": { "frequency": "daily" } }""", "granularity" },
        { """{ "clientId": "{client}", "kpiCodes": ["POF"], "granularity": "minute", "range": { "unit": "day", "count": 30 }, "schedule": { "frequency": "daily" } }""", "granularity" },
        { """{ "clientId": "{client}", "kpiCodes": ["OTD"], "dimension": "no_such_field", "schedule": { "frequency": "daily" } }""", "dimension" },
    };

    [Theory]
    [MemberData(nameof(BadJobs))]
    public async Task A_bad_job_is_refused_with_400_naming_the_field(string body, string field)
    {
        var clientId = TestClients.NewId("badjob");
        await TestClients.CreateAsync(fixture.Http, clientId);
        using var content = new StringContent(body.Replace("{client}", clientId, StringComparison.Ordinal), System.Text.Encoding.UTF8, "application/json");
        using var response = await fixture.Http.PostAsync("/batch/schedule", content);
        var text = await response.Content.ReadAsStringAsync();

        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, text);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var errors = JsonDocument.Parse(text).RootElement.GetProperty("errors");
        Assert.True(errors.TryGetProperty(field, out var messages), $"expected an error for '{field}': {text}");
        Assert.False(string.IsNullOrWhiteSpace(messages[0].GetString()));
        Assert.Empty((await fixture.Http.GetFromJsonAsync<JsonElement[]>($"/batch/jobs?clientId={clientId}"))!);
    }
}
