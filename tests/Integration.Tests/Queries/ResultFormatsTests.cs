using System.Net;
using System.Text;
using System.Text.Json;
using AnalyticsEngine.Gateway.Api;
using Microsoft.AspNetCore.Http;

namespace AnalyticsEngine.Integration.Tests.Queries;

/// <summary>Which format a result is answered in: <c>format</c> first, then <c>Accept</c> with its qualities and specificity.</summary>
public sealed class ResultFormatsTests
{
    private static readonly ResultFormat[] JsonOrCsv = [ResultFormat.Json, ResultFormat.Csv];

    private static ResultFormat? Negotiate(string? accept, string? query = null, ResultFormat[]? offered = null)
    {
        var context = new DefaultHttpContext();
        if (accept is not null)
        {
            context.Request.Headers.Accept = accept;
        }

        context.Request.QueryString = new QueryString(query ?? "");
        return ResultFormats.Negotiate(context.Request, offered ?? JsonOrCsv);
    }

    [Theory]
    [InlineData(null, ResultFormat.Json)]
    [InlineData("*/*", ResultFormat.Json)]
    [InlineData("application/json", ResultFormat.Json)]
    [InlineData("text/csv", ResultFormat.Csv)]
    [InlineData("text/csv; charset=utf-8", ResultFormat.Csv)]
    [InlineData("TEXT/CSV", ResultFormat.Csv)]
    [InlineData("text/*", ResultFormat.Csv)]
    [InlineData("application/json, text/csv;q=0.5", ResultFormat.Json)]
    [InlineData("text/csv;q=0.5, application/json", ResultFormat.Json)]
    [InlineData("text/csv, application/json", ResultFormat.Csv)]
    [InlineData("application/json, text/csv", ResultFormat.Json)]
    [InlineData("text/csv, */*;q=0.8", ResultFormat.Csv)]
    [InlineData("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", ResultFormat.Json)]
    [InlineData("text/csv;q=0, */*", ResultFormat.Json)]
    [InlineData("application/json;q=0, */*", ResultFormat.Csv)]
    public void Accept_is_read_by_quality_then_specificity_then_order(string? accept, ResultFormat expected) =>
        Assert.Equal(expected, Negotiate(accept));

    [Theory]
    [InlineData("application/xml")]
    [InlineData("text/html")]
    [InlineData("application/json;q=0, text/csv;q=0")]
    public void An_accept_header_that_takes_no_offered_format_negotiates_none(string accept) =>
        Assert.Null(Negotiate(accept));

    [Fact]
    public void An_endpoint_that_answers_json_only_accepts_no_csv() =>
        Assert.Null(Negotiate("text/csv", offered: [ResultFormat.Json]));

    [Theory]
    [InlineData("?format=json", "text/csv", ResultFormat.Json)]
    [InlineData("?format=CSV", "application/json", ResultFormat.Csv)]
    [InlineData("?format=csv", "application/xml", ResultFormat.Csv)]
    public void A_format_given_decides_over_accept(string query, string accept, ResultFormat expected) =>
        Assert.Equal(expected, Negotiate(accept, query));

    [Theory]
    [InlineData(null, null, ResultFormat.Json)]
    [InlineData("text/markdown", null, ResultFormat.Markdown)]
    [InlineData("text/*", null, ResultFormat.Markdown)]
    [InlineData("text/markdown;q=0.5, application/json", null, ResultFormat.Json)]
    [InlineData("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", null, ResultFormat.Json)]
    [InlineData("application/json", "?format=Markdown", ResultFormat.Markdown)]
    [InlineData("text/markdown", "?format=json", ResultFormat.Json)]
    public void A_markdown_document_is_negotiated_as_csv_is(string? accept, string? query, ResultFormat expected) =>
        Assert.Equal(expected, Negotiate(accept, query, [ResultFormat.Json, ResultFormat.Markdown]));

    [Theory]
    [InlineData("text/csv")]
    [InlineData("application/xml")]
    public void An_endpoint_that_answers_json_or_markdown_accepts_nothing_else(string accept) =>
        Assert.Null(Negotiate(accept, offered: [ResultFormat.Json, ResultFormat.Markdown]));
}

/// <summary>The 406 a result endpoint answers when the caller accepts none of its formats, before the query runs.</summary>
[Collection(AnalyticsCollection.Name)]
public sealed class NotAcceptableTests(AnalyticsFixture fixture)
{
    [Fact]
    public async Task A_query_for_xml_only_is_406_naming_what_the_endpoint_answers()
    {
        var clientId = TestClients.NewId("accept");
        await TestClients.CreateAsync(fixture.Http, clientId);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/calculate")
        {
            Content = new StringContent(
                $"{{\"clientId\":\"{clientId}\",\"kpiCode\":\"POF\",\"from\":\"2026-11-01T00:00:00Z\",\"to\":\"2026-11-02T00:00:00Z\"}}",
                Encoding.UTF8, "application/json"),
        };
        request.Headers.Accept.ParseAdd("application/xml");

        using var response = await fixture.Http.SendAsync(request);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(HttpStatusCode.NotAcceptable, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var detail = problem.GetProperty("detail").GetString()!;
        Assert.Contains("'application/xml'", detail, StringComparison.Ordinal);
        Assert.Contains("application/json or text/csv", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_listing_that_answers_json_only_is_406_for_csv_and_json_for_a_browser()
    {
        using var csv = new HttpRequestMessage(HttpMethod.Get, "/batch/jobs");
        csv.Headers.Accept.ParseAdd("text/csv");
        using var browser = new HttpRequestMessage(HttpMethod.Get, "/batch/jobs");
        browser.Headers.Accept.ParseAdd("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8");

        using var refused = await fixture.Http.SendAsync(csv);
        using var answered = await fixture.Http.SendAsync(browser);

        Assert.Equal(HttpStatusCode.NotAcceptable, refused.StatusCode);
        Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
        Assert.Equal("application/json", answered.Content.Headers.ContentType?.MediaType);
    }
}
