using System.Net;
using System.Text;
using System.Text.Json;

namespace AnalyticsEngine.Integration.Tests.Queries;

/// <summary>A weekly job runs on one named day, and a job computes each KPI once.</summary>
[Collection(AnalyticsCollection.Name)]
public sealed class BatchScheduleInputTests(AnalyticsFixture fixture)
{
    private async Task<(HttpStatusCode Status, JsonElement Body)> ScheduleAsync(string clientId, string kpiCodes, string schedule)
    {
        using var content = new StringContent($"{{\"clientId\":\"{clientId}\",\"kpiCodes\":{kpiCodes},\"schedule\":{schedule}}}", Encoding.UTF8, "application/json");
        using var response = await fixture.Http.PostAsync("/batch/schedule", content);
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    private async Task<string> ClientAsync()
    {
        var clientId = TestClients.NewId("weekly");
        await TestClients.CreateAsync(fixture.Http, clientId);
        return clientId;
    }

    [Theory]
    [InlineData("Monday, Friday")]
    [InlineData("Monday,Friday")]
    [InlineData("5")]
    [InlineData("-1")]
    public async Task A_day_of_week_that_is_not_one_day_name_is_refused(string day)
    {
        var clientId = await ClientAsync();

        var (status, body) = await ScheduleAsync(clientId, "[\"OTD\"]", $"{{\"frequency\":\"weekly\",\"dayOfWeek\":\"{day}\",\"time\":\"06:00\"}}");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal($"'{day}' is not a day of the week (monday ... sunday)",
            Assert.Single(body.GetProperty("errors").GetProperty("schedule.dayOfWeek").EnumerateArray()).GetString());
    }

    [Fact]
    public async Task A_day_name_is_read_in_any_case()
    {
        var clientId = await ClientAsync();

        var (status, job) = await ScheduleAsync(clientId, "[\"OTD\"]", "{\"frequency\":\"weekly\",\"dayOfWeek\":\"FRIDAY\",\"time\":\"06:00\"}");

        Assert.True(status == HttpStatusCode.Created, job.ToString());
        Assert.Equal("friday", job.GetProperty("definition").GetProperty("schedule").GetProperty("dayOfWeek").GetString());
    }

    [Theory]
    [InlineData("[\"POF\",\"OTD\",\" POF\"]")]
    [InlineData("[\"POF\",\"OTD\",\"pof\"]")]
    public async Task A_kpi_code_given_twice_is_refused_naming_it(string codes)
    {
        var clientId = await ClientAsync();

        var (status, body) = await ScheduleAsync(clientId, codes, "{\"frequency\":\"daily\"}");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("'POF' appears more than once",
            Assert.Single(body.GetProperty("errors").GetProperty("kpiCodes").EnumerateArray()).GetString());
    }
}
