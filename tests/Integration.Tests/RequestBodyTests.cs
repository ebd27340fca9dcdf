using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace AnalyticsEngine.Integration.Tests;

/// <summary>
/// A body is read strictly: a field the request does not have, or a field given twice, is refused by its JSON path
/// rather than dropped; and every refusal of a body says why in the API's words (allowed values, ranges, media types).
/// </summary>
[Collection(AnalyticsCollection.Name)]
public sealed class RequestBodyTests(AnalyticsFixture fixture)
{
    private const string Range = "\"from\":\"2026-11-02T00:00:00Z\",\"to\":\"2026-11-03T00:00:00Z\"";

    private async Task<(HttpStatusCode Status, JsonElement Problem)> SendAsync(HttpMethod method, string url, string? json, string? mediaType = "application/json")
    {
        using var request = new HttpRequestMessage(method, url);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8);
            request.Content.Headers.ContentType = mediaType is null ? null : new MediaTypeHeaderValue(mediaType);
        }

        using var response = await fixture.Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.Content.Headers.ContentType?.MediaType == "application/problem+json", $"{response.StatusCode}: {text}");
        return (response.StatusCode, JsonDocument.Parse(text).RootElement);
    }

    private Task<(HttpStatusCode Status, JsonElement Problem)> PostAsync(string url, string? json, string? mediaType = "application/json") =>
        SendAsync(HttpMethod.Post, url, json, mediaType);

    private static string Error(JsonElement problem, string field)
    {
        var reasons = default(JsonElement);
        Assert.True(problem.TryGetProperty("errors", out var errors) && errors.TryGetProperty(field, out reasons), $"no errors.{field} in {problem}");
        return Assert.Single(reasons.EnumerateArray()).GetString()!;
    }

    private async Task<string> ClientAsync()
    {
        var clientId = TestClients.NewId("body");
        await TestClients.CreateAsync(fixture.Http, clientId);
        return clientId;
    }

    [Fact]
    public async Task A_misspelt_field_of_a_client_is_refused_and_the_client_is_not_created()
    {
        var clientId = TestClients.NewId("typo");

        var (status, problem) = await PostAsync("/clients",
            $"{{\"clientId\":\"{clientId}\",\"name\":\"b\",\"timeZon\":\"Asia/Tokyo\",\"selectedKpis\":[\"OTD\"]}}");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        var reason = Error(problem, "timeZon");
        Assert.StartsWith("is not a field of this request; the fields are: ", reason, StringComparison.Ordinal);
        Assert.Contains("timeZone", reason, StringComparison.Ordinal);
        Assert.DoesNotContain("ClientRequest", problem.GetRawText(), StringComparison.Ordinal);
        using var lookup = await fixture.Http.GetAsync($"/clients/{clientId}");
        Assert.Equal(HttpStatusCode.NotFound, lookup.StatusCode);
    }

    [Fact]
    public async Task A_misspelt_field_of_a_calculation_is_refused()
    {
        var clientId = await ClientAsync();

        var (status, problem) = await PostAsync("/calculate",
            $"{{\"clientId\":\"{clientId}\",\"kpiCode\":\"POF\",{Range},\"granularty\":\"hour\"}}");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("granularity", Error(problem, "granularty"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_misspelt_nested_field_is_named_by_its_path_with_its_siblings()
    {
        var clientId = await ClientAsync();

        var (status, problem) = await PostAsync("/batch/schedule",
            $"{{\"clientId\":\"{clientId}\",\"kpiCodes\":[\"OTD\"],\"schedule\":{{\"frequency\":\"weekly\",\"day\":\"friday\",\"time\":\"06:00\"}}}}");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("is not a field of schedule; the fields are: frequency, time, minute, dayOfWeek", Error(problem, "schedule.day"));
    }

    [Fact]
    public async Task A_custom_kpi_with_an_unknown_field_is_not_created()
    {
        var clientId = await ClientAsync();

        var (status, problem) = await PostAsync($"/clients/{clientId}/custom-kpis",
            "{\"code\":\"LATE\",\"name\":\"Late\",\"formula\":\"count(orders)\",\"lowerIsBetter\":true}");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.StartsWith("is not a field of this request", Error(problem, "lowerIsBetter"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_field_given_twice_is_refused()
    {
        var (status, problem) = await PostAsync("/clients",
            $"{{\"clientId\":\"{TestClients.NewId("twice")}\",\"name\":\"a\",\"name\":\"b\"}}");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.StartsWith("appears twice", Error(problem, "name"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("null")]
    public async Task A_missing_or_null_body_asks_for_a_json_object(string body)
    {
        var (status, problem) = await PostAsync("/clients", body);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("The body must be a JSON object.", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task A_validation_problem_says_its_fields_are_invalid()
    {
        var (status, problem) = await PostAsync("/clients", "{\"name\":\"no id\"}");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("is required", Error(problem, "clientId"));
        Assert.Equal("Some fields are invalid; see errors.", problem.GetProperty("detail").GetString());
    }

    [Theory]
    [InlineData(null, "this request has no Content-Type")]
    [InlineData("text/plain", "this request's is 'text/plain")]
    public async Task A_body_of_another_media_type_is_415_naming_json(string? mediaType, string had)
    {
        var (status, problem) = await PostAsync("/clients", $"{{\"clientId\":\"{TestClients.NewId("mt")}\"}}", mediaType);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, status);
        Assert.Equal("Unsupported media type", problem.GetProperty("title").GetString());
        var detail = problem.GetProperty("detail").GetString()!;
        Assert.StartsWith("Send the body as application/json (Content-Type: application/json)", detail, StringComparison.Ordinal);
        Assert.Contains(had, detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_enum_value_lists_the_values_the_field_takes()
    {
        var clientId = await ClientAsync();

        var (status, problem) = await PostAsync($"/clients/{clientId}/custom-kpis",
            "{\"code\":\"LATE\",\"name\":\"Late\",\"formula\":\"count(orders)\",\"direction\":\"sideways\"}");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("is not one of the values this field takes: higherIsBetter, lowerIsBetter", Error(problem, "direction"));
    }

    [Fact]
    public async Task A_number_too_large_for_its_field_is_out_of_range()
    {
        var clientId = await ClientAsync();

        var (status, problem) = await PostAsync("/batch/schedule",
            $"{{\"clientId\":\"{clientId}\",\"kpiCodes\":[\"OTD\"],\"schedule\":{{\"frequency\":\"hourly\",\"minute\":99999999999}}}}");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("is not a whole number from 0 to 59", Error(problem, "schedule.minute"));
    }

    [Fact]
    public async Task A_fraction_for_a_whole_number_field_asks_for_a_whole_number()
    {
        var clientId = await ClientAsync();

        var (status, problem) = await PostAsync("/batch/schedule",
            $"{{\"clientId\":\"{clientId}\",\"kpiCodes\":[\"OTD\"],\"schedule\":{{\"frequency\":\"hourly\",\"minute\":15.5}}}}");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("is not a whole number from 0 to 59", Error(problem, "schedule.minute"));
    }

    [Fact]
    public async Task A_string_that_is_not_utf8_is_named_by_its_field_and_nothing_is_created()
    {
        var clientId = TestClients.NewId("utf8");
        var body = Encoding.UTF8.GetBytes($"{{\"clientId\":\"{clientId}\",\"name\":\"caf\u0001\"}}");
        body[Array.IndexOf(body, (byte)1)] = 0xE9; // Latin-1 'é', not UTF-8
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");

        using var response = await fixture.Http.PostAsync("/clients", content);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("is not valid UTF-8 text", Error(problem, "name"));
        using var lookup = await fixture.Http.GetAsync($"/clients/{clientId}");
        Assert.Equal(HttpStatusCode.NotFound, lookup.StatusCode);
    }
}
