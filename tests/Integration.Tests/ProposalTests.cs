using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AnalyticsEngine.Gateway.Api;
using AnalyticsEngine.Gateway.Security;
using AnalyticsEngine.Proposals;

namespace AnalyticsEngine.Integration.Tests;

/// <summary>
/// An admin prepares a service proposal over HTTP: the questionnaire for a set of KPIs or a client, the proposal for its
/// answers in JSON and as a Markdown document, and a precise 4xx for each kind of wrong request.
/// </summary>
[Collection(AnalyticsCollection.Name)]
public sealed class ProposalTests(AnalyticsFixture fixture)
{
    /// <summary>The pricing model's worked example: four KPIs over two value chains, a 3-year license, AWS, a retainer.</summary>
    private const string WorkedExample = """
        { "clientName": "Acme Logistics", "date": "2026-11-29", "licenseTermYears": 3,
          "kpiCodes": ["POF", "OTD", "CRM_ACTIVE_ACCOUNTS", "CRM_NET_NEW_MRR"],
          "kpis": [ {"kpiCode": "OTD", "complexity": "rbac"}, {"kpiCode": "CRM_NET_NEW_MRR", "complexity": "dynamicRbac"} ],
          "dataSources": [
            {"objectModel": "accounts", "sourceSystem": "Salesforce CRM", "integration": "streamingApiArchitected"},
            {"objectModel": "orders", "sourceSystem": "SAP ERP", "integration": "batchNonConformedSingleSource"},
            {"objectModel": "shipments", "sourceSystem": "Internal DB", "integration": "batchConformed"},
            {"objectModel": "subscription_changes", "sourceSystem": "Billing API", "integration": "streamingApiNonArchitected"} ],
          "environment": {"platform": "aws", "cloudArchitectHours": 60},
          "retention": {"stagedSourceData": {"activePeriod": 100, "activeUnit": "days", "archive": true, "archivePeriod": 400, "archiveUnit": "days"}},
          "infrastructure": {"dailyIngestGb": 5, "concurrentUsers": 200, "refreshPeriod": "minute", "monthlyDataTransferGb": 1000},
          "managedServices": {"retainer": true, "additionalHours": 50} }
        """;

    [Fact]
    public async Task The_worked_example_is_priced_as_the_pricing_model_says()
    {
        var (status, type, text) = await PostAsync("/proposals", WorkedExample);

        Assert.True(status == HttpStatusCode.OK, text);
        Assert.Equal("application/json", type);
        var proposal = JsonDocument.Parse(text).RootElement;
        Assert.Equal("Acme Logistics", proposal.GetProperty("clientName").GetString());
        Assert.Equal("2026-11-29", proposal.GetProperty("date").GetString());
        Assert.Equal("2026-12-29", proposal.GetProperty("validUntil").GetString());
        Assert.Equal("USD", proposal.GetProperty("currency").GetString());

        var licensing = proposal.GetProperty("licensing");
        Assert.Equal(["SCOR", "CRM"], Strings(licensing.GetProperty("valueChains"), "code"));
        Assert.Equal(3, licensing.GetProperty("termYears").GetInt32());
        Assert.Equal(32_500m, licensing.GetProperty("annualCostPerChain").GetDecimal());
        Assert.Equal(65_000m, licensing.GetProperty("annualTotal").GetDecimal());
        Assert.Equal(195_000m, licensing.GetProperty("termTotal").GetDecimal());

        var implementation = proposal.GetProperty("implementation");
        var integration = implementation.GetProperty("dataIntegration").EnumerateArray().ToDictionary(l => l.GetProperty("objectModel").GetString()!);
        Assert.Equal(2_500m, integration["accounts"].GetProperty("cost").GetDecimal());
        Assert.Equal("streamingApiArchitected", integration["accounts"].GetProperty("integration").GetString());
        Assert.Equal("Salesforce CRM", integration["accounts"].GetProperty("sourceSystem").GetString());
        Assert.Equal(2_500m, integration["orders"].GetProperty("cost").GetDecimal());
        Assert.Equal(1_500m, integration["shipments"].GetProperty("cost").GetDecimal());
        Assert.Equal(JsonValueKind.Null, integration["subscription_changes"].GetProperty("cost").ValueKind);
        Assert.Equal(6_500m, implementation.GetProperty("dataIntegrationTotal").GetDecimal());

        var kpis = implementation.GetProperty("kpiImplementation").EnumerateArray().ToDictionary(l => l.GetProperty("kpiCode").GetString()!);
        Assert.Equal(["POF", "OTD", "CRM_ACTIVE_ACCOUNTS", "CRM_NET_NEW_MRR"], kpis.Keys);
        Assert.Equal(("otb", 50m), (kpis["POF"].GetProperty("complexity").GetString(), kpis["POF"].GetProperty("cost").GetDecimal()));
        Assert.Equal(("rbac", 100m), (kpis["OTD"].GetProperty("complexity").GetString(), kpis["OTD"].GetProperty("cost").GetDecimal()));
        Assert.Equal(50m, kpis["CRM_ACTIVE_ACCOUNTS"].GetProperty("cost").GetDecimal());
        Assert.Equal("dynamicRbac", kpis["CRM_NET_NEW_MRR"].GetProperty("complexity").GetString());
        Assert.Equal(JsonValueKind.Null, kpis["CRM_NET_NEW_MRR"].GetProperty("cost").ValueKind);
        Assert.Equal(200m, implementation.GetProperty("kpiImplementationTotal").GetDecimal());

        var environment = implementation.GetProperty("environment");
        Assert.Equal("aws", environment.GetProperty("platform").GetString());
        Assert.Equal((60m, 175m, 10_500m), (environment.GetProperty("cloudArchitectHours").GetDecimal(),
            environment.GetProperty("hourlyRate").GetDecimal(), environment.GetProperty("cost").GetDecimal()));

        var items = implementation.GetProperty("timeAndMaterials").EnumerateArray().ToList();
        Assert.Equal(2, items.Count);
        Assert.Equal((40m, 60m, 7_000m, 10_500m), HoursAndCost(items[0]));
        Assert.Contains("non-architected", items[0].GetProperty("description").GetString(), StringComparison.OrdinalIgnoreCase);
        Assert.Equal((20m, 30m, 3_500m, 5_250m), HoursAndCost(items[1]));
        Assert.Contains("CRM_NET_NEW_MRR", items[1].GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.Equal((10_500m, 15_750m), Range(implementation.GetProperty("timeAndMaterialsTotal")));
        Assert.Equal(17_200m, implementation.GetProperty("fixedCostTotal").GetDecimal());
        Assert.Equal((27_700m, 32_950m), Range(implementation.GetProperty("total")));

        var infrastructure = proposal.GetProperty("infrastructure");
        var compute = infrastructure.GetProperty("compute").EnumerateArray()
            .Select(c => (c.GetProperty("count").GetInt32(), c.GetProperty("monthlyPerInstance").GetDecimal(), c.GetProperty("monthly").GetDecimal()))
            .ToList();
        Assert.Equal([(2, 50m, 100m), (6, 100m, 600m), (6, 150m, 900m)], compute);
        Assert.Equal(1_600m, infrastructure.GetProperty("computeMonthly").GetDecimal());
        var storage = infrastructure.GetProperty("storage");
        Assert.Equal((500m, 0.10m, 50m), Volume(storage.GetProperty("activeDatabase")));
        Assert.Equal((2_000m, 0.01m, 20m), Volume(storage.GetProperty("archivedData")));
        Assert.Equal(100m, storage.GetProperty("redisMonthly").GetDecimal());
        Assert.Equal(170m, storage.GetProperty("monthly").GetDecimal());
        Assert.Equal((1_000m, 0.09m, 90m), Volume(infrastructure.GetProperty("network")));
        Assert.Equal(1_860m, infrastructure.GetProperty("monthly").GetDecimal());
        Assert.Equal(22_320m, infrastructure.GetProperty("annual").GetDecimal());

        var managed = proposal.GetProperty("managedServices");
        Assert.Equal((5_000m, 50m, 3_750m, 8_750m), (managed.GetProperty("retainer").GetDecimal(), managed.GetProperty("additionalHours").GetDecimal(),
            managed.GetProperty("additionalCost").GetDecimal(), managed.GetProperty("annualTotal").GetDecimal()));

        var totals = proposal.GetProperty("totals");
        Assert.Equal(96_070m, totals.GetProperty("yearlyRecurring").GetDecimal());
        Assert.Equal((123_770m, 129_020m), Range(totals.GetProperty("year1")));
        Assert.Equal((315_910m, 321_160m), Range(totals.GetProperty("termTotal")));

        var timeline = proposal.GetProperty("timeline").EnumerateArray()
            .Select(p => (p.GetProperty("phase").GetString(), p.GetProperty("fromWeek").GetInt32(), p.GetProperty("toWeek").GetInt32()))
            .ToList();
        Assert.Equal(
            [("Environment setup", 1, 2), ("Data integration", 2, 6), ("KPI implementation", 4, 8), ("Testing and UAT", 7, 9), ("Go-live", 10, 10)],
            timeline);
    }

    [Fact]
    public async Task The_worked_example_as_a_markdown_document_has_each_section_and_figure()
    {
        var (status, type, document) = await PostAsync("/proposals?format=markdown", WorkedExample);

        Assert.True(status == HttpStatusCode.OK, document);
        Assert.Equal("text/markdown", type);
        var lines = document.Split('\n').Select(l => l.TrimEnd()).ToList();
        string[] expected =
        [
            "# Analytics Engine Service Proposal",
            "**Client:** Acme Logistics",
            "**Date:** 2026-11-29",
            "**Valid until:** 2026-12-29",
            "## Executive Summary",
            "**Value chains:** SCOR, CRM (2 chains)",
            "**License term:** 3 years (7% discount on the 1-year rate)",
            "**Annual cost:** $65,000/year ($32,500 per chain)",
            "**Total 3-year cost:** $195,000",
            "**Subtotal data integration:** $6,500",
            "**Subtotal KPI implementation:** $200",
            "**Platform:** AWS",
            "**Cloud architect:** 60 hours at $175/hr = $10,500",
            "**Access specialist:** Included",
            "**Subtotal environment:** $10,500",
            "**T&M range:** $10,500 – $15,750",
            "**Fixed-price items:** $17,200",
            "**Total implementation cost:** $27,700 – $32,950",
            "- API gateway: 2 × t3.medium at $50/month = $100/month",
            "- Business services: 6 × t3.large at $100/month = $600/month",
            "- Backend services: 6 × t3.xlarge at $150/month = $900/month",
            "**Subtotal:** $1,600/month = $19,200/year",
            "- Active database: 500 GB × $0.10/GB = $50/month",
            "- Archived data: 2,000 GB × $0.01/GB = $20/month",
            "- Redis: cache.m5.large = $100/month",
            "**Subtotal:** $170/month = $2,040/year",
            "- Data transfer: 1,000 GB × $0.09/GB = $90/month",
            "**Subtotal:** $90/month = $1,080/year",
            "**Total annual infrastructure:** $22,320",
            "- Staged source data: 100 days in the active database, then 400 days archived (the storage above is sized for it)",
            "**Support retainer:** $5,000/year (66.67 hours at $75/hr)",
            "**Estimated additional hours:** 50 hours at $75/hr = $3,750",
            "**Total managed services:** $8,750/year",
            "- Implementation (one-time): $27,700 – $32,950",
            "**Year 1 total:** $123,770 – $129,020",
            "### Years 2–3 (each year)",
            "**Annual cost:** $96,070",
            "### 3-Year Total",
            "**Total investment:** $315,910 – $321,160",
            "**Proposal valid until:** 2026-12-29",
        ];
        Assert.All(expected, line => Assert.True(lines.Contains(line), $"missing line: {line}\n\n{document}"));

        Assert.Matches(@"\n\| [^|\n]+ \| Salesforce CRM \| Streaming – API, architected \| CRM_ACTIVE_ACCOUNTS \| \$2,500 \|\n", document);
        Assert.Matches(@"\n\| [^|\n]+ \| SAP ERP \| Batch – non-conformed, single source \| POF, OTD \| \$2,500 \|\n", document);
        Assert.Matches(@"\n\| [^|\n]+ \| Internal DB \| Batch – conformed/cleansed \| — \| \$1,500 \|\n", document);
        Assert.Matches(@"\n\| [^|\n]+ \| Billing API \| Streaming – API, non-architected \| CRM_NET_NEW_MRR \| T&M \(see below\) \|\n", document);
        Assert.Matches(@"\n\| POF \| Perfect Order Fulfillment \| OTB \| \$50 \|\n", document);
        Assert.Matches(@"\n\| OTD \| [^|\n]+ \| RBAC \| \$100 \|\n", document);
        Assert.Matches(@"\n\| CRM_NET_NEW_MRR \| [^|\n]+ \| Dynamic RBAC \| T&M \(see below\) \|\n", document);
        Assert.Matches(@"\n\| [^|\n]*non-architected[^|\n]* \| 40–60 \| \$175/hr \| \$7,000 – \$10,500 \|\n", document);
        Assert.Matches(@"\n\| [^|\n]*CRM_NET_NEW_MRR[^|\n]* \| 20–30 \| \$175/hr \| \$3,500 – \$5,250 \|\n", document);
        Assert.Matches(@"\n\| Environment setup \| Weeks 1–2 \| [^\n]+\n", document);
        Assert.Matches(@"\n\| Go-live \| Week 10 \| [^\n]+\n", document);
        Assert.Matches(@"\n\| Integration architect \| As needed \| \$175/hr \| [^\n]+\n", document);

        string[] sections =
        [
            "## Executive Summary", "## 1. Licensing", "## 2. Implementation", "### Data Source Integration", "### KPI Implementation",
            "### Environment Setup", "### Time & Materials (T&M) Items", "## 3. Infrastructure", "## 4. Managed Services",
            "## 5. Total Cost Summary", "## 6. Resource Schedule", "### Timeline", "## 7. Next Steps",
        ];
        var positions = sections.Select(s => document.IndexOf("\n" + s, StringComparison.Ordinal)).ToList();
        Assert.DoesNotContain(-1, positions);
        Assert.Equal(positions.Order(), positions);
    }

    [Fact]
    public async Task Accept_text_markdown_answers_the_same_document_and_a_browser_gets_json()
    {
        var (_, _, byFormat) = await PostAsync("/proposals?format=markdown", WorkedExample);

        var (status, type, byAccept) = await PostAsync("/proposals", WorkedExample, "text/markdown");
        var (_, browserType, _) = await PostAsync("/proposals", WorkedExample, "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8");
        var (_, jsonType, _) = await PostAsync("/proposals?format=json", WorkedExample, "text/markdown");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("text/markdown", type);
        Assert.Equal(byFormat, byAccept);
        Assert.Equal("application/json", browserType);
        Assert.Equal("application/json", jsonType);
    }

    [Fact]
    public async Task A_proposal_for_a_client_without_kpi_codes_covers_its_selected_kpis_under_its_name()
    {
        var clientId = TestClients.NewId("prop");
        await TestClients.CreateAsync(fixture.Http, clientId, "Europe/Berlin", "POF", "CRM_ACTIVE_ACCOUNTS");
        var questionnaire = JsonDocument.Parse((await PostAsync("/proposals/questionnaire", Json(new { clientId }))).Text).RootElement;
        var models = Strings(questionnaire.GetProperty("objectModels"), "code");
        Assert.Equal(["accounts", "orders"], models.Order(StringComparer.Ordinal));

        var (status, _, text) = await PostAsync("/proposals", Json(new
        {
            clientId,
            licenseTermYears = 1,
            date = "2026-03-01",
            dataSources = models.Select(m => new { objectModel = m, integration = "batchConformed" }),
            environment = new { platform = "none" },
            infrastructure = new { dailyIngestGb = 1, concurrentUsers = 20 },
        }));

        Assert.True(status == HttpStatusCode.OK, text);
        var proposal = JsonDocument.Parse(text).RootElement;
        Assert.Equal(clientId, proposal.GetProperty("clientId").GetString());
        Assert.Equal("Test " + clientId, proposal.GetProperty("clientName").GetString());
        Assert.Equal("2026-03-31", proposal.GetProperty("validUntil").GetString());
        var implementation = proposal.GetProperty("implementation");
        Assert.Equal(["POF", "CRM_ACTIVE_ACCOUNTS"], Strings(implementation.GetProperty("kpiImplementation"), "kpiCode"));
        Assert.Equal(3_000m, implementation.GetProperty("dataIntegrationTotal").GetDecimal());
        Assert.Equal(100m, implementation.GetProperty("kpiImplementationTotal").GetDecimal());
        Assert.Equal(0m, implementation.GetProperty("environment").GetProperty("cost").GetDecimal());
        Assert.Equal((3_100m, 3_100m), Range(implementation.GetProperty("total")));
        var licensing = proposal.GetProperty("licensing");
        Assert.Equal(["SCOR", "CRM"], Strings(licensing.GetProperty("valueChains"), "code"));
        Assert.Equal((35_000m, 70_000m, 70_000m), (licensing.GetProperty("annualCostPerChain").GetDecimal(),
            licensing.GetProperty("annualTotal").GetDecimal(), licensing.GetProperty("termTotal").GetDecimal()));
        var totals = proposal.GetProperty("totals");
        Assert.Equal(Range(totals.GetProperty("year1")), Range(totals.GetProperty("termTotal")));
    }

    [Fact]
    public async Task Text_from_the_request_can_break_no_line_or_table_of_the_document()
    {
        var body = JsonNode.Parse(WorkedExample)!;
        body["clientName"] = "Acme | <b>Logistics</b> [x](https://evil.example)";
        body["dataSources"]![1]!["sourceSystem"] = @"SAP | ERP \| `x` *y*";

        var (status, _, document) = await PostAsync("/proposals?format=markdown", body.ToJsonString());

        Assert.True(status == HttpStatusCode.OK, document);
        var lines = document.Split('\n');
        Assert.Contains(@"**Client:** Acme \| \<b\>Logistics\</b\> \[x\](https://evil.example)", lines.Select(l => l.TrimEnd()));
        var row = Assert.Single(lines, l => l.Contains("SAP", StringComparison.Ordinal));
        Assert.Contains(@"SAP \| ERP \\\| \`x\` \*y\*", row, StringComparison.Ordinal);
        Assert.Equal(6, TableBorders(row));
        Assert.DoesNotContain("<b>", document, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_enum_value_the_field_does_not_take_is_400_naming_the_field_and_its_values()
    {
        var body = WorkedExample.Replace("\"integration\": \"streamingApiNonArchitected\"", "\"integration\": \"carrierPigeon\"", StringComparison.Ordinal);

        var (status, type, text) = await PostAsync("/proposals", body);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("application/problem+json", type);
        var problem = JsonDocument.Parse(text).RootElement;
        var reason = Assert.Single(problem.GetProperty("errors").GetProperty("dataSources[3].integration").EnumerateArray()).GetString()!;
        Assert.Contains("batchNonConformedSingleSource", reason, StringComparison.Ordinal);
        Assert.Contains("streamingApiNonArchitected", reason, StringComparison.Ordinal);
        Assert.StartsWith("dataSources[3].integration: ", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"platform\": \"aws\"", "\"platform\": \"mainframe\"", "environment.platform")]
    [InlineData("\"complexity\": \"rbac\"", "\"complexity\": 2", "kpis[0].complexity")]
    [InlineData("\"dailyIngestGb\": 5", "\"dailyIngestGb\": \"5\"", "infrastructure.dailyIngestGb")]
    [InlineData("\"date\": \"2026-11-29\"", "\"date\": \"29/11/2026\"", "date")]
    [InlineData("\"archive\": true", "\"archive\": true, \"archived\": true", "retention.stagedSourceData.archived")]
    public async Task A_value_that_cannot_be_read_is_400_naming_where_it_is(string from, string to, string field)
    {
        var (status, _, text) = await PostAsync("/proposals", WorkedExample.Replace(from, to, StringComparison.Ordinal));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.True(JsonDocument.Parse(text).RootElement.GetProperty("errors").TryGetProperty(field, out _), text);
    }

    [Theory]
    [InlineData(", \"integration\": \"batchConformed\"}", "}", "dataSources[2].integration")]
    [InlineData("{\"platform\": \"aws\", ", "{", "environment.platform")]
    [InlineData("{\"retainer\": true, ", "{", "managedServices.retainer")]
    [InlineData("\"archive\": true, ", "", "retention.stagedSourceData.archive")]
    [InlineData("\"complexity\": \"rbac\"", "\"estimatedHours\": null", "kpis[0].complexity")]
    public async Task A_choice_left_out_is_400_naming_it_rather_than_read_as_its_first_value(string from, string to, string field)
    {
        var body = WorkedExample.Replace(from, to, StringComparison.Ordinal);
        Assert.NotEqual(WorkedExample, body);

        var (status, _, text) = await PostAsync("/proposals", body);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        var problem = JsonDocument.Parse(text).RootElement;
        Assert.Equal(["is required"], problem.GetProperty("errors").GetProperty(field).EnumerateArray().Select(e => e.GetString()));
        Assert.Equal($"{field}: is required.", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Answers_the_pricing_refuses_are_400_with_the_grains_problem_by_field()
    {
        var body = JsonNode.Parse(WorkedExample)!.AsObject();
        body.Remove("licenseTermYears");
        body["clientName"] = "Acme\nLogistics";

        var (status, _, text) = await PostAsync("/proposals", body.ToJsonString());

        Assert.Equal(HttpStatusCode.BadRequest, status);
        var errors = JsonDocument.Parse(text).RootElement.GetProperty("errors");
        Assert.Contains("1, 3, 5", Assert.Single(errors.GetProperty("licenseTermYears").EnumerateArray()).GetString(), StringComparison.Ordinal);
        Assert.True(errors.TryGetProperty("clientName", out _), text);
    }

    [Fact]
    public async Task A_query_parameter_the_endpoint_does_not_take_is_400_naming_it()
    {
        var (status, _, text) = await PostAsync("/proposals?currency=eur", WorkedExample);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        var problem = JsonDocument.Parse(text).RootElement;
        Assert.Equal("Unknown query parameter", problem.GetProperty("title").GetString());
        Assert.True(problem.GetProperty("errors").TryGetProperty("currency", out _), text);
    }

    [Theory]
    [InlineData("/proposals?format=csv", "markdown")]
    [InlineData("/proposals?format=pdf", "markdown")]
    [InlineData("/proposals?format=json&format=markdown", null)]
    [InlineData("/proposals/questionnaire?format=markdown", "JSON only")]
    public async Task A_format_the_endpoint_does_not_answer_is_400_naming_format(string url, string? mentioned)
    {
        var body = url.StartsWith("/proposals/questionnaire", StringComparison.Ordinal) ? """{"kpiCodes":["POF"]}""" : WorkedExample;

        var (status, _, text) = await PostAsync(url, body);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        var problem = JsonDocument.Parse(text).RootElement;
        if (mentioned is not null)
        {
            Assert.Equal("Unsupported format", problem.GetProperty("title").GetString());
            Assert.True(problem.GetProperty("errors").TryGetProperty("format", out _), text);
            Assert.Contains(mentioned, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
        else
        {
            Assert.True(problem.GetProperty("errors").TryGetProperty("format", out _), text);
        }
    }

    [Theory]
    [InlineData("text/csv")]
    [InlineData("application/xml")]
    [InlineData("application/json;q=0, text/markdown;q=0")]
    public async Task An_accept_header_that_takes_neither_json_nor_markdown_is_406(string accept)
    {
        var (status, _, text) = await PostAsync("/proposals", WorkedExample, accept);

        Assert.Equal(HttpStatusCode.NotAcceptable, status);
        Assert.Contains("application/json or text/markdown", JsonDocument.Parse(text).RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/proposals")]
    [InlineData("/proposals/questionnaire")]
    public async Task A_client_that_does_not_exist_is_404(string url)
    {
        var clientId = TestClients.NewId("nosuch");
        var body = url == "/proposals"
            ? JsonNode.Parse(WorkedExample)!.AsObject()
            : new JsonObject { ["kpiCodes"] = new JsonArray("POF") };
        body["clientId"] = clientId;

        var (status, type, text) = await PostAsync(url, body.ToJsonString());

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("application/problem+json", type);
        Assert.Contains($"'{clientId}'", JsonDocument.Parse(text).RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_proposal_for_a_client_the_token_does_not_grant_is_403_and_only_admins_prepare_proposals()
    {
        var clientId = TestClients.NewId("propsec");
        await TestClients.CreateAsync(fixture.Http, clientId);
        var body = JsonNode.Parse(WorkedExample)!.AsObject();
        body["clientId"] = clientId;
        using var otherAdmin = fixture.CreateClient(fixture.Token(Roles.Admin, "someone-else"));
        using var analyst = fixture.CreateClient(fixture.Token(Roles.Analyst, ClientAccess.AllClients));

        using var forOther = await otherAdmin.PostAsync("/proposals", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        using var byAnalyst = await analyst.PostAsync("/proposals", new StringContent(WorkedExample, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.Forbidden, forOther.StatusCode);
        Assert.Contains($"'{clientId}'", await forOther.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, byAnalyst.StatusCode);
    }

    [Fact]
    public async Task Preparing_a_proposal_changes_nothing_so_the_audit_trail_leaves_it_out()
    {
        var clientId = TestClients.NewId("propaudit");
        await TestClients.CreateAsync(fixture.Http, clientId);
        var body = JsonNode.Parse(WorkedExample)!.AsObject();
        body["clientId"] = clientId;
        body["kpiCodes"] = new JsonArray("POF");
        body.Remove("kpis");
        body["dataSources"] = new JsonArray(new JsonObject { ["objectModel"] = "orders", ["integration"] = "batchConformed" });

        var (proposed, _, proposal) = await PostAsync("/proposals", body.ToJsonString());
        var (asked, _, _) = await PostAsync("/proposals/questionnaire", Json(new { clientId }));
        using (var renamed = await fixture.Http.PutAsync($"/clients/{clientId}", new StringContent("""{"name":"Renamed"}""", Encoding.UTF8, "application/json")))
        {
            renamed.EnsureSuccessStatusCode();
        }

        Assert.True(proposed == HttpStatusCode.OK, proposal);
        Assert.Equal(HttpStatusCode.OK, asked);
        var actions = new List<string>();
        await Eventually.HoldsAsync(async () =>
        {
            var entries = await fixture.Http.GetFromJsonAsync<JsonElement>($"/audit?clientId={clientId}");
            actions = [.. entries.EnumerateArray().Select(e => e.GetProperty("action").GetString()!)];
            return actions.Contains("PUT /clients/{clientId}");
        }, TimeSpan.FromSeconds(20), () => string.Join(" | ", actions));
        Assert.Equal(["PUT /clients/{clientId}", "POST /clients"], actions);
    }

    [Fact]
    public async Task The_questionnaire_for_kpis_names_their_chains_and_object_models_and_prices_every_choice()
    {
        var (status, _, text) = await PostAsync("/proposals/questionnaire", """{"kpiCodes":["POF","CRM_NET_NEW_MRR"]}""");

        Assert.True(status == HttpStatusCode.OK, text);
        var questionnaire = JsonDocument.Parse(text).RootElement;
        Assert.Equal(JsonValueKind.Null, questionnaire.GetProperty("clientId").ValueKind);
        Assert.Equal(["POF", "CRM_NET_NEW_MRR"], Strings(questionnaire.GetProperty("kpis"), "code"));
        Assert.Equal(["SCOR", "CRM"], Strings(questionnaire.GetProperty("valueChains"), "code"));
        Assert.Equal(["orders", "subscription_changes"], Strings(questionnaire.GetProperty("objectModels"), "code").Order(StringComparer.Ordinal));
        var terms = questionnaire.GetProperty("licenseTerms").EnumerateArray()
            .Select(t => (t.GetProperty("years").GetInt32(), t.GetProperty("annualCostPerChain").GetDecimal())).ToList();
        Assert.Equal([(1, 35_000m), (3, 32_500m), (5, 30_000m)], terms);
        var methods = questionnaire.GetProperty("integrationMethods").EnumerateArray().ToDictionary(m => m.GetProperty("method").GetString()!);
        Assert.Equal(1_500m, methods["batchConformed"].GetProperty("price").GetDecimal());
        Assert.Equal(JsonValueKind.Null, methods["streamingApiNonArchitected"].GetProperty("price").ValueKind);
        Assert.Equal(175m, methods["streamingApiNonArchitected"].GetProperty("hourlyRate").GetDecimal());
        Assert.Equal(5_000m, questionnaire.GetProperty("managedServices").GetProperty("retainer").GetDecimal());
    }

    [Fact]
    public async Task The_questionnaire_for_a_client_covers_its_selected_kpis()
    {
        var clientId = TestClients.NewId("propq");
        await TestClients.CreateAsync(fixture.Http, clientId, "Europe/Berlin", "OTD", "CRM_NET_NEW_MRR");

        var (status, _, text) = await PostAsync("/proposals/questionnaire", Json(new { clientId }));

        Assert.True(status == HttpStatusCode.OK, text);
        var questionnaire = JsonDocument.Parse(text).RootElement;
        Assert.Equal(clientId, questionnaire.GetProperty("clientId").GetString());
        Assert.Equal(["OTD", "CRM_NET_NEW_MRR"], Strings(questionnaire.GetProperty("kpis"), "code"));
    }

    [Fact]
    public async Task A_questionnaire_for_an_unknown_kpi_is_400_naming_it()
    {
        var (status, _, text) = await PostAsync("/proposals/questionnaire", """{"kpiCodes":["POF","NO_SUCH_KPI"]}""");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("NO_SUCH_KPI", JsonDocument.Parse(text).RootElement.GetProperty("errors").GetProperty("kpiCodes[1]")[0].GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_openapi_document_tells_what_the_proposal_endpoints_answer()
    {
        using var anonymous = fixture.CreateClient(null);
        using var document = JsonDocument.Parse(await anonymous.GetStringAsync("/openapi/v1.json"));
        var paths = document.RootElement.GetProperty("paths");

        var generate = paths.GetProperty("/proposals").GetProperty("post");
        Assert.Equal("Proposals", Assert.Single(generate.GetProperty("tags").EnumerateArray()).GetString());
        var answered = generate.GetProperty("responses").GetProperty("200").GetProperty("content");
        Assert.True(answered.TryGetProperty("application/json", out _), answered.ToString());
        Assert.True(answered.TryGetProperty("text/markdown", out _), answered.ToString());
        foreach (var status in new[] { "400", "403", "404", "406" })
        {
            Assert.True(generate.GetProperty("responses").TryGetProperty(status, out _), status);
        }

        var format = generate.GetProperty("parameters").EnumerateArray().Single(p => p.GetProperty("name").GetString() == "format");
        Assert.Equal(["json", "markdown"], format.GetProperty("schema").GetProperty("enum").EnumerateArray().Select(e => e.GetString()));
        Assert.True(generate.GetProperty("requestBody").GetProperty("content").TryGetProperty("application/json", out _));

        var questionnaire = paths.GetProperty("/proposals/questionnaire").GetProperty("post");
        Assert.True(questionnaire.GetProperty("responses").GetProperty("200").GetProperty("content").TryGetProperty("application/json", out _));
        foreach (var status in new[] { "400", "403", "404" })
        {
            Assert.True(questionnaire.GetProperty("responses").TryGetProperty(status, out _), status);
        }
    }

    private async Task<(HttpStatusCode Status, string? Type, string Text)> PostAsync(string url, string json, string? accept = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (accept is not null)
        {
            request.Headers.TryAddWithoutValidation("Accept", accept);
        }

        using var response = await fixture.Http.SendAsync(request);
        return (response.StatusCode, response.Content.Headers.ContentType?.MediaType, await response.Content.ReadAsStringAsync());
    }

    private static string Json<T>(T value) => JsonSerializer.Serialize(value, JsonSerializerOptions.Web);

    private static List<string> Strings(JsonElement array, string property) =>
        [.. array.EnumerateArray().Select(e => e.GetProperty(property).GetString()!)];

    private static (decimal Min, decimal Max) Range(JsonElement range) => (range.GetProperty("min").GetDecimal(), range.GetProperty("max").GetDecimal());

    private static (decimal, decimal, decimal) Volume(JsonElement line) =>
        (line.GetProperty("gb").GetDecimal(), line.GetProperty("monthlyPerGb").GetDecimal(), line.GetProperty("monthly").GetDecimal());

    private static (decimal, decimal, decimal, decimal) HoursAndCost(JsonElement item)
    {
        var (min, max) = Range(item.GetProperty("hours"));
        var (from, to) = Range(item.GetProperty("cost"));
        Assert.Equal(175m, item.GetProperty("hourlyRate").GetDecimal());
        return (min, max, from, to);
    }

    /// <summary>The pipes of a table row that are borders: those no backslash escapes.</summary>
    private static int TableBorders(string row)
    {
        var borders = 0;
        for (var i = 0; i < row.Length; i++)
        {
            if (row[i] == '\\')
            {
                i++;
            }
            else if (row[i] == '|')
            {
                borders++;
            }
        }

        return borders;
    }
}

/// <summary>How the proposal document writes amounts, ranges and text, whatever the culture.</summary>
public sealed class ProposalDocumentTests
{
    [Theory]
    [InlineData("65000", "$65,000")]
    [InlineData("0.1", "$0.10")]
    [InlineData("0.09", "$0.09")]
    [InlineData("1234.5", "$1,234.50")]
    [InlineData("1000000", "$1,000,000")]
    [InlineData("0", "$0")]
    [InlineData("-5", "-$5")]
    public void Money_is_whole_dollars_with_thousands_separators_and_cents_only_when_there_are_some(string amount, string expected) =>
        Assert.Equal(expected, ProposalDocument.Money(decimal.Parse(amount, System.Globalization.CultureInfo.InvariantCulture)));

    [Fact]
    public void A_range_is_two_amounts_unless_it_is_exact()
    {
        Assert.Equal("$27,700 – $32,950", ProposalDocument.Range(new MoneyRange(27_700m, 32_950m)));
        Assert.Equal("$3,100", ProposalDocument.Range(MoneyRange.Exactly(3_100m)));
    }

    [Theory]
    [InlineData("Salesforce CRM", "Salesforce CRM")]
    [InlineData("a|b", @"a\|b")]
    [InlineData(@"a\|b", @"a\\\|b")]
    [InlineData("two\r\nlines\nthree\rfour", "two lines three four")]
    [InlineData("<script>", @"\<script\>")]
    [InlineData("[link](x)", @"\[link\](x)")]
    [InlineData("subscription_changes", "subscription_changes")]
    [InlineData("_emphasis_ and __strong__", "\\_emphasis\\_ and \\_\\_strong\\_\\_")]
    public void Text_is_escaped_so_it_stays_in_its_cell(string text, string expected) =>
        Assert.Equal(expected, ProposalDocument.Text(text));
}
