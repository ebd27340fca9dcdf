using System.Net;
using System.Text;
using System.Text.Json;

namespace AnalyticsEngine.Integration.Tests;

/// <summary>
/// A custom KPI's text fields have limits, and a refused custom KPI or client names the request's own field: <c>code</c>,
/// <c>fieldMappings[0].objectModel</c>, not the list it would be stored in.
/// </summary>
[Collection(AnalyticsCollection.Name)]
public sealed class CustomKpiFieldTests(AnalyticsFixture fixture)
{
    private async Task<string> ClientAsync()
    {
        var clientId = TestClients.NewId("fields");
        await TestClients.CreateAsync(fixture.Http, clientId);
        return clientId;
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> PostAsync(string url, object body)
    {
        using var content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
        using var response = await fixture.Http.PostAsync(url, content);
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    private static Dictionary<string, string[]> Errors(JsonElement problem) =>
        problem.GetProperty("errors").EnumerateObject().ToDictionary(e => e.Name, e => e.Value.EnumerateArray().Select(m => m.GetString()!).ToArray());

    private static object Kpi(string code, string? description = null, string? unit = null, string? module = null, string name = "Late orders") =>
        new { code, name, description, formula = "count(orders)", unit, module };

    [Theory]
    [InlineData("description", 2001, "description: must be at most 2000 characters; it has 2001")]
    [InlineData("unit", 33, "unit: must be at most 32 characters; it has 33")]
    [InlineData("module", 65, "module: must be at most 64 characters; it has 65")]
    [InlineData("module", 50_000, "module: must be at most 64 characters; it has 50000")]
    public async Task A_text_field_longer_than_its_limit_is_refused_and_nothing_is_stored(string field, int length, string expected)
    {
        var clientId = await ClientAsync();
        var text = new string('x', length);
        var kpi = field switch
        {
            "description" => Kpi("LATE", description: text),
            "unit" => Kpi("LATE", unit: text),
            _ => Kpi("LATE", module: text),
        };

        var (status, problem) = await PostAsync($"/clients/{clientId}/custom-kpis", kpi);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        var (name, reason) = (expected.Split(": ", 2)[0], expected.Split(": ", 2)[1]);
        Assert.Equal(reason, Assert.Single(Errors(problem)[name]));
        using var list = await fixture.Http.GetAsync($"/clients/{clientId}/custom-kpis");
        Assert.Equal("[]", await list.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Text_fields_at_their_limits_are_stored()
    {
        var clientId = await ClientAsync();

        var (status, stored) = await PostAsync($"/clients/{clientId}/custom-kpis",
            Kpi("LATE", description: new string('d', 2000), unit: new string('u', 32), module: new string('m', 64)));

        Assert.True(status == HttpStatusCode.Created, stored.ToString());
        Assert.Equal(2000, stored.GetProperty("description").GetString()!.Length);
        Assert.Equal(32, stored.GetProperty("unit").GetString()!.Length);
        Assert.Equal(64, stored.GetProperty("module").GetString()!.Length);
    }

    [Theory]
    [InlineData("late", "code")]
    [InlineData("POF", "code")]
    public async Task A_bad_code_is_named_code(string code, string field)
    {
        var clientId = await ClientAsync();

        var (status, problem) = await PostAsync($"/clients/{clientId}/custom-kpis", Kpi(code));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        var errors = Errors(problem);
        Assert.Equal([field], errors.Keys);
        Assert.StartsWith($"'{code}' ", Assert.Single(errors[field]), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_name_too_long_is_named_name()
    {
        var clientId = await ClientAsync();

        var (status, problem) = await PostAsync($"/clients/{clientId}/custom-kpis", Kpi("LATE", name: new string('n', 201)));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("is required and at most 200 characters", Assert.Single(Errors(problem)["name"]));
    }

    [Fact]
    public async Task An_empty_field_mapping_names_each_missing_field_by_index()
    {
        var (status, problem) = await PostAsync("/clients", new
        {
            clientId = TestClients.NewId("mappings"),
            name = "Mappings",
            timeZone = "UTC",
            selectedKpis = new[] { "OTD", null },
            fieldMappings = new object?[] { new { objectModel = "orders", sourceField = "a", modelField = "b" }, new { }, null },
        });

        Assert.Equal(HttpStatusCode.BadRequest, status);
        var errors = Errors(problem);
        Assert.Equal(["fieldMappings[1].modelField", "fieldMappings[1].objectModel", "fieldMappings[1].sourceField", "fieldMappings[2]", "selectedKpis[1]"],
            errors.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("must not be null", Assert.Single(errors["fieldMappings[1].objectModel"]));
    }
}
