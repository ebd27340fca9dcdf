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
    public async Task Json_or_no_format_is_answered(string query)
    {
        var clientId = await ClientAsync();

        var (status, snapshot) = await GetAsync($"/clients/{clientId}/kpis/POF{query}");

        Assert.True(status == HttpStatusCode.OK, snapshot.ToString());
    }

    [Theory]
    [InlineData("dayToDate", "-5")]
    [InlineData("monthToDate", "3")]
    public async Task A_count_for_a_period_to_date_is_refused(string kind, string count)
    {
        var clientId = await ClientAsync();

        var (status, problem) = await GetAsync($"/clients/{clientId}/kpis/POF/window?kind={kind}&count={count}");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("count applies only to lastMinutes, lastHours, lastDays.", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task A_period_to_date_without_a_count_is_answered()
    {
        var clientId = await ClientAsync();

        var (status, window) = await GetAsync($"/clients/{clientId}/kpis/POF/window?kind=dayToDate");

        Assert.True(status == HttpStatusCode.OK, window.ToString());
    }

    [Theory]
    [InlineData("?granularity=Hour")]
    [InlineData("?granularity=DAY")]
    [InlineData("/window?kind=LastHours&count=2")]
    [InlineData("/window?kind=monthtodate")]
    public async Task Granularity_and_window_names_are_read_whatever_their_case(string query)
    {
        var clientId = await ClientAsync();

        var (status, value) = await GetAsync($"/clients/{clientId}/kpis/POF{query}");

        Assert.True(status == HttpStatusCode.OK, value.ToString());
    }

    [Theory]
    [InlineData("?granularity=hours", "granularity 'hours' is not one of 'minute', 'hour', 'day'.")]
    [InlineData("/window?kind=lastHour&count=2", "kind 'lastHour' is not one of")]
    public async Task A_granularity_or_window_of_no_known_name_is_refused_with_the_names(string query, string detail)
    {
        var clientId = await ClientAsync();

        var (status, problem) = await GetAsync($"/clients/{clientId}/kpis/POF{query}");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.StartsWith(detail, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }
}
