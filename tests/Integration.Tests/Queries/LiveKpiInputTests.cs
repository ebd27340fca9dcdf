using System.Net;
using System.Text.Json;

namespace AnalyticsEngine.Integration.Tests.Queries;

/// <summary>The live snapshot and window refuse what they would otherwise ignore: a format other than JSON, a count for a period to date.</summary>
[Collection(AnalyticsCollection.Name)]
public sealed class LiveKpiInputTests(AnalyticsFixture fixture)
{
    private async Task<string> ClientAsync()
    {
        var clientId = TestClients.NewId("live");
        await TestClients.CreateAsync(fixture.Http, clientId);
        return clientId;
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> GetAsync(string url)
    {
        using var response = await fixture.Http.GetAsync(url);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    [Theory]
    [InlineData("?format=csv")]
    [InlineData("?format=xml")]
    [InlineData("/window?kind=lastHours&count=2&format=xml")]
    [InlineData("/window?kind=dayToDate&format=csv")]
    public async Task A_format_other_than_json_is_refused(string query)
    {
        var clientId = await ClientAsync();

        var (status, problem) = await GetAsync($"/clients/{clientId}/kpis/POF{query}");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("Unsupported format", problem.GetProperty("title").GetString());
        Assert.Contains("answers JSON only", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("?format=json")]
    [InlineData("?format=JSON")]
    [InlineData("")]
    [InlineData("/window?kind=dayToDate")]
    [InlineData("?granularity=Hour")]
    [InlineData("?granularity=DAY")]
    [InlineData("/window?kind=LastHours&count=2")]
    [InlineData("/window?kind=monthtodate")]
    [InlineData("/window?kind=lastHours&count=1080")]
    [InlineData("/window?kind=lastDays&count=400")]
    [InlineData("?granularity=day&recent=400")]
    public async Task A_format_granularity_or_window_the_endpoint_takes_is_answered_whatever_its_case(string query)
    {
        var clientId = await ClientAsync();

        var (status, value) = await GetAsync($"/clients/{clientId}/kpis/POF{query}");

        Assert.True(status == HttpStatusCode.OK, value.ToString());
    }

    [Theory]
    [InlineData("/kpis/pof")]
    [InlineData("/kpis/Pof/window?kind=dayToDate")]
    public async Task A_selected_kpi_is_found_whatever_the_case_of_its_code_and_answered_under_its_own(string path)
    {
        var clientId = await ClientAsync();

        var (status, value) = await GetAsync($"/clients/{clientId}{path}");

        Assert.True(status == HttpStatusCode.OK, value.ToString());
        Assert.Equal("POF", value.GetProperty("kpiCode").GetString());
    }

    [Theory]
    [InlineData("/window?kind=dayToDate&count=-5", "count", "count applies only to lastMinutes, lastHours, lastDays.")]
    [InlineData("/window?kind=monthToDate&count=3", "count", "count applies only to lastMinutes, lastHours, lastDays.")]
    [InlineData("?granularity=hours", "granularity", "granularity 'hours' is not one of 'minute', 'hour', 'day'.")]
    [InlineData("/window?kind=lastHour&count=2", "kind", "kind 'lastHour' is not one of 'lastMinutes', ")]
    [InlineData("/window?kind=lastHours&count=1081", "count", "a lastHours window needs count between 1 and 1080, the hours the live engine keeps; ask POST /calculate")]
    [InlineData("/window?kind=lastDays&count=401", "count", "a lastDays window needs count between 1 and 400, the days the live engine keeps")]
    [InlineData("/window?kind=lastMinutes", "count", "a lastMinutes window needs count between 1 and 1440")]
    [InlineData("?granularity=hour&recent=1081", "recent", "recent must be between 1 and 1080 hour buckets, the ones the live engine keeps")]
    [InlineData("?recent=0", "recent", "recent must be between 1 and 1440 minute buckets")]
    public async Task A_count_granularity_or_window_the_endpoint_does_not_take_is_refused_saying_why_and_where(string query, string field, string detail)
    {
        var clientId = await ClientAsync();

        var (status, problem) = await GetAsync($"/clients/{clientId}/kpis/POF{query}");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.StartsWith(detail, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.StartsWith(detail, problem.GetProperty("errors").GetProperty(field)[0].GetString(), StringComparison.Ordinal);
    }
}
