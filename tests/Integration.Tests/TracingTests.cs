using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;

namespace AnalyticsEngine.Integration.Tests;

/// <summary>
/// One trace from the caller to the database: the W3C <c>traceparent</c> of an HTTP request reaches the gateway's
/// request span, the Orleans grain call and the PostgreSQL commands the silo runs for it (gateway and silo run in
/// this process, so one listener sees the spans of both).
/// </summary>
[Collection(AnalyticsCollection.Name)]
public sealed class TracingTests(AnalyticsFixture fixture)
{
    [Fact]
    public async Task One_trace_id_runs_from_the_HTTP_request_through_the_grain_call_to_PostgreSQL()
    {
        var clientId = TestClients.NewId("trace");
        await TestClients.CreateAsync(fixture.Http, clientId);
        var traceId = ActivityTraceId.CreateRandom();
        var spans = new ConcurrentQueue<string>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is "Npgsql" or "Microsoft.AspNetCore" || source.Name.StartsWith("Microsoft.Orleans", StringComparison.Ordinal),
            // Record only this request's trace, whatever else the shared test host is doing.
            Sample = (ref ActivityCreationOptions<ActivityContext> options) =>
                options.TraceId == traceId ? ActivitySamplingResult.AllDataAndRecorded : ActivitySamplingResult.None,
            ActivityStarted = activity =>
            {
                if (activity.TraceId == traceId)
                {
                    spans.Enqueue(activity.Source.Name);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);

        var to = DateTimeOffset.UtcNow;
        using var request = new HttpRequestMessage(HttpMethod.Post, "/calculate")
        {
            Content = JsonContent.Create(new { clientId, kpiCode = "POF", from = to.AddDays(-1), to, granularity = "hour" }),
        };
        request.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom()}-01");
        using var response = await fixture.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var seen = spans.ToArray();
        Assert.Contains("Microsoft.AspNetCore", seen);
        Assert.Contains(seen, s => s.StartsWith("Microsoft.Orleans", StringComparison.Ordinal));
        Assert.Contains("Npgsql", seen);
    }
}
