using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AnalyticsEngine.Kpi;
using Microsoft.AspNetCore.SignalR.Client;

namespace AnalyticsEngine.Integration.Tests;

/// <summary>An analyst writes a custom KPI over HTTP, sees precise errors for a wrong one, and watches the right one live.</summary>
[Collection(AnalyticsCollection.Name)]
public sealed class CustomKpiTests(AnalyticsFixture fixture)
{
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web) { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.CamelCase) } };

    [Fact]
    public async Task A_formula_with_problems_is_refused_with_every_problem_and_its_position()
    {
        var clientId = TestClients.NewId("ck");
        await TestClients.CreateAsync(fixture.Http, clientId);

        using var response = await fixture.Http.PostAsJsonAsync($"/clients/{clientId}/custom-kpis", new
        {
            code = "BROKEN",
            name = "Broken",
            formula = "count(orders) filter (where orders.colour = 'red') / sum(orders.carrier)",
        });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        var problems = problem.GetProperty("problems").EnumerateArray().ToList();
        Assert.True(problems.Count >= 2, problem.GetRawText());
        var unknownField = problems.Single(p => p.GetProperty("message").GetString()!.Contains("colour", StringComparison.Ordinal));
        Assert.Equal(1, unknownField.GetProperty("line").GetInt32());
        Assert.Equal(36, unknownField.GetProperty("column").GetInt32()); // the "colour" in orders.colour
        Assert.Contains("^", unknownField.GetProperty("excerpt").GetString());
        var config = await fixture.Http.GetFromJsonAsync<JsonElement>($"/clients/{clientId}");
        Assert.Empty(config.GetProperty("customKpis").EnumerateArray());
    }

    [Fact]
    public async Task Changing_a_deselected_custom_kpi_leaves_it_deselected_and_codes_are_stored_once_as_the_catalog_spells_them()
    {
        var clientId = TestClients.NewId("cksel");
        await TestClients.CreateAsync(fixture.Http, clientId, "Europe/Berlin", "pof", "POF", "otd");
        Assert.Equal(["POF", "OTD"], await SelectedAsync(clientId));

        var body = new { code = "CK", name = "Count", formula = "count(orders)" };
        (await fixture.Http.PostAsJsonAsync($"/clients/{clientId}/custom-kpis", body)).EnsureSuccessStatusCode();
        Assert.Equal(["POF", "OTD", "CK"], await SelectedAsync(clientId));
        (await fixture.Http.PutAsJsonAsync($"/clients/{clientId}", new { name = "Test " + clientId, selectedKpis = new[] { "POF", "OTD" } })).EnsureSuccessStatusCode();

        (await fixture.Http.PutAsJsonAsync($"/clients/{clientId}/custom-kpis/CK", body with { name = "Count of orders" })).EnsureSuccessStatusCode();

        Assert.Equal(["POF", "OTD"], await SelectedAsync(clientId));
    }

    [Fact]
    public async Task A_custom_kpi_is_changed_and_deleted_by_its_code_in_any_case()
    {
        var clientId = TestClients.NewId("ckcase");
        await TestClients.CreateAsync(fixture.Http, clientId);
        var body = new { code = "CK_CASE", name = "Count", formula = "count(orders)" };
        (await fixture.Http.PostAsJsonAsync($"/clients/{clientId}/custom-kpis", body)).EnsureSuccessStatusCode();

        using (var changed = await fixture.Http.PutAsJsonAsync($"/clients/{clientId}/custom-kpis/ck_case", body with { code = "ck_case", name = "Count of orders" }))
        {
            Assert.True(changed.IsSuccessStatusCode, await changed.Content.ReadAsStringAsync());
        }

        var stored = Assert.Single((await fixture.Http.GetFromJsonAsync<JsonElement>($"/clients/{clientId}/custom-kpis")).EnumerateArray());
        Assert.Equal(("CK_CASE", "Count of orders"), (stored.GetProperty("code").GetString(), stored.GetProperty("name").GetString()));
        using (var deleted = await fixture.Http.DeleteAsync($"/clients/{clientId}/custom-kpis/Ck_Case"))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }

        Assert.Empty((await fixture.Http.GetFromJsonAsync<JsonElement>($"/clients/{clientId}/custom-kpis")).EnumerateArray());
    }

    private async Task<string[]> SelectedAsync(string clientId) =>
        [.. (await fixture.Http.GetFromJsonAsync<JsonElement>($"/clients/{clientId}")).GetProperty("selectedKpis").EnumerateArray().Select(c => c.GetString()!)];

    [Fact]
    public async Task A_new_custom_kpi_is_computed_from_events_stored_before_it_existed_and_then_live()
    {
        var clientId = TestClients.NewId("ck");
        await TestClients.CreateAsync(fixture.Http, clientId);
        var minute = TestOrder.MinuteStart(5);
        var before = TestOrder.Random(20, minute, seed: 21);
        (await fixture.Http.PostAsJsonAsync($"/ingest/orders?clientId={clientId}", before)).EnsureSuccessStatusCode();

        using (var created = await fixture.Http.PostAsJsonAsync($"/clients/{clientId}/custom-kpis", new
        {
            code = "BIG_ORDER_SHARE",
            name = "Share of big orders",
            formula = "100 * count(orders) filter (where orders.order_value > 500) / count(orders)",
            unit = "%",
        }))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        await using var hub = await fixture.ConnectHubAsync();
        var after = TestOrder.Random(10, minute, seed: 22).Select((o, i) => o with { order_id = $"late-{i}" }).ToList();
        var all = before.Concat(after).ToList();
        var pushed = new TaskCompletionSource<KpiValue>(TaskCreationOptions.RunContinuationsAsynchronously);
        hub.On<KpiValue[]>("kpiChanged", values =>
        {
            foreach (var v in values.Where(v => v.BucketStart == minute && v.EventCount == all.Count))
            {
                pushed.TrySetResult(v);
            }
        });
        var snapshot = await hub.InvokeAsync<KpiSnapshot>("Subscribe", clientId, "BIG_ORDER_SHARE", "minute");
        var existing = snapshot.Recent.Single(v => v.BucketStart == minute);
        Assert.Equal(before.Count, existing.EventCount);
        Assert.Equal(100.0 * before.Count(o => o.order_value > 500) / before.Count, existing.Value!.Value, precision: 9);

        (await fixture.Http.PostAsJsonAsync($"/ingest/orders?clientId={clientId}", after)).EnsureSuccessStatusCode();

        var live = await pushed.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(100.0 * all.Count(o => o.order_value > 500) / all.Count, live.Value!.Value, precision: 9);
    }

    [Fact]
    public async Task Required_objects_list_the_fields_each_object_must_deliver_for_catalog_and_custom_kpis()
    {
        var clientId = TestClients.NewId("req");
        await TestClients.CreateAsync(fixture.Http, clientId);
        (await fixture.Http.PostAsJsonAsync($"/clients/{clientId}/custom-kpis", new
        {
            code = "BILLABLE_HOURS", name = "Billable hours", formula = "sum(time_logs.hours) filter (where time_logs.billable)",
        })).EnsureSuccessStatusCode();

        using var response = await fixture.Http.PostAsJsonAsync("/analysis/required-objects", new { clientId, kpiCodes = new[] { "OTD", "BILLABLE_HOURS" } });
        var result = await response.Content.ReadFromJsonAsync<JsonElement>(Web);
        using var unknown = await fixture.Http.PostAsJsonAsync("/analysis/required-objects", new { kpiCodes = new[] { "OTD", "NOPE" } });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var objects = result.GetProperty("objects").EnumerateArray().ToDictionary(
            o => o.GetProperty("objectModel").GetString()!,
            o => o.GetProperty("fields").EnumerateArray().Select(f => f.GetString()!).ToList());
        Assert.Equal(["on_time"], objects["orders"]);
        Assert.Equal(["billable", "hours"], objects["time_logs"]);
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
        Assert.Contains("NOPE", await unknown.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Formula_check_reports_the_objects_a_valid_formula_reads()
    {
        using var response = await fixture.Http.PostAsJsonAsync("/formulas/check", new { formula = "sum(time_logs.hours * time_logs.rate) / count(invoices)" });
        var check = await response.Content.ReadFromJsonAsync<JsonElement>(Web);

        Assert.True(check.GetProperty("isValid").GetBoolean());
        Assert.Equal(["invoices", "time_logs"], check.GetProperty("objectModels").EnumerateArray().Select(e => e.GetString()!).Order());
    }
}
