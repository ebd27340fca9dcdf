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

    [Fact]
    public async Task A_number_written_as_a_string_is_refused_as_a_value_of_the_wrong_type()
    {
        var clientId = await ClientAsync();

        var (status, body) = await ScheduleAsync(clientId, "[\"OTD\"]", "{\"frequency\":\"hourly\",\"minute\":\"15\"}");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.True(body.GetProperty("errors").TryGetProperty("schedule.minute", out _), body.ToString());
    }

    [Fact]
    public async Task A_fraction_for_a_range_count_is_told_the_most_units_a_range_may_span()
    {
        var clientId = await ClientAsync();
        using var content = new StringContent(
            $"{{\"clientId\":\"{clientId}\",\"kpiCodes\":[\"OTD\"],\"schedule\":{{\"frequency\":\"daily\"}},\"range\":{{\"unit\":\"hour\",\"count\":2.5}}}}",
            Encoding.UTF8, "application/json");

        using var response = await fixture.Http.PostAsync("/batch/schedule", content);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("is not a whole number from 1 to 744", Assert.Single(body.GetProperty("errors").GetProperty("range.count").EnumerateArray()).GetString());
    }

    [Theory]
    [InlineData("/batch/jobs?limit=abc", "limit", "'abc' is not a whole number from 1 to 1000")]
    [InlineData("/batch/jobs/{0}/runs?limit=1.5", "limit", "'1.5' is not a whole number from 1 to 1000")]
    [InlineData("/batch/jobs/{0}/runs/first", "runId", "'first' is not a whole number from 1 to 9223372036854775807")]
    [InlineData("/clients/{1}/kpis/POF/window?kind=lastHours&count=many", "count", "'many' is not a whole number from 1 to 1440")]
    public async Task A_parameter_that_is_not_a_whole_number_is_told_the_parameters_range(string url, string parameter, string reason)
    {
        var clientId = await ClientAsync();
        var (_, job) = await ScheduleAsync(clientId, "[\"OTD\"]", "{\"frequency\":\"daily\"}");

        using var response = await fixture.Http.GetAsync(string.Format(System.Globalization.CultureInfo.InvariantCulture, url, job.GetProperty("jobId").GetString(), clientId));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(reason, Assert.Single(body.GetProperty("errors").GetProperty(parameter).EnumerateArray()).GetString());
    }

    [Fact]
    public async Task A_dimension_of_only_spaces_is_refused_not_read_as_none()
    {
        var clientId = await ClientAsync();
        using var content = new StringContent(
            $"{{\"clientId\":\"{clientId}\",\"kpiCodes\":[\"OTD\"],\"dimension\":\"   \",\"schedule\":{{\"frequency\":\"daily\"}}}}", Encoding.UTF8, "application/json");

        using var response = await fixture.Http.PostAsync("/batch/schedule", content);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.StartsWith("must name a field", Assert.Single(body.GetProperty("errors").GetProperty("dimension").EnumerateArray()).GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/batch/jobs?format=csv")]
    [InlineData("/batch/jobs/{0}?format=csv")]
    [InlineData("/batch/jobs/{0}/runs?format=csv")]
    public async Task Job_listings_answer_json_only_and_refuse_another_format(string url)
    {
        var clientId = await ClientAsync();
        var (_, job) = await ScheduleAsync(clientId, "[\"OTD\"]", "{\"frequency\":\"daily\"}");

        using var response = await fixture.Http.GetAsync(string.Format(System.Globalization.CultureInfo.InvariantCulture, url, job.GetProperty("jobId").GetString()));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("answers JSON only", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_schedule_without_a_frequency_is_told_the_frequency_is_required()
    {
        var clientId = await ClientAsync();

        var (status, body) = await ScheduleAsync(clientId, "[\"OTD\"]", "{\"time\":\"06:00\"}");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("is required: 'hourly', 'daily' or 'weekly'",
            Assert.Single(body.GetProperty("errors").GetProperty("schedule.frequency").EnumerateArray()).GetString());
    }
}
