using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AnalyticsEngine.Gateway.Security;

namespace AnalyticsEngine.Integration.Tests;

/// <summary>Values with little behind them are flagged with their confidence and why; a reviewer's decision holds until the value changes.</summary>
[Collection(AnalyticsCollection.Name)]
public sealed class ReviewTests(AnalyticsFixture fixture)
{
    // Two days of a client in Berlin: 3 orders on the first, 40 on the second.
    private static readonly DateTimeOffset ThinDay = new(2026, 11, 2, 0, 0, 0, TimeSpan.FromHours(1));
    private static readonly DateTimeOffset FullDay = ThinDay.AddDays(1);
    private static readonly string Range =
        $"from={Uri.EscapeDataString(ThinDay.AddDays(-1).ToString("O"))}&to={Uri.EscapeDataString(FullDay.AddDays(2).ToString("O"))}&granularity=day";

    private async Task<string> ClientWithTwoDaysAsync()
    {
        var clientId = TestClients.NewId("review");
        await TestClients.CreateAsync(fixture.Http, clientId, "Europe/Berlin", "OTD");
        await TestClients.PostOrdersAsync(fixture.Http, clientId, TestOrder.Random(3, ThinDay.AddHours(10), 11));
        await TestClients.PostOrdersAsync(fixture.Http, clientId, TestOrder.Random(40, FullDay.AddHours(10), 12));
        return clientId;
    }

    private async Task<JsonElement> ListAsync(string clientId, string extra = "")
    {
        using var response = await fixture.Http.GetAsync($"/clients/{clientId}/reviews?{Range}{extra}");
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private Task<HttpResponseMessage> DecideAsync(string clientId, object decision, HttpClient? http = null) =>
        (http ?? fixture.Http).PostAsJsonAsync($"/clients/{clientId}/reviews", decision);

    [Fact]
    public async Task A_value_of_few_events_is_flagged_with_its_confidence_and_the_full_day_is_not()
    {
        var clientId = await ClientWithTwoDaysAsync();

        var list = await ListAsync(clientId);

        Assert.Equal(0.7, list.GetProperty("threshold").GetDouble());
        var item = Assert.Single(list.GetProperty("items").EnumerateArray());
        Assert.Equal(ThinDay, item.GetProperty("value").GetProperty("bucketStart").GetDateTimeOffset());
        Assert.Equal(3, item.GetProperty("value").GetProperty("eventCount").GetInt64());
        Assert.True(item.GetProperty("flagged").GetBoolean());
        Assert.Equal("pending", item.GetProperty("status").GetString());
        var confidence = item.GetProperty("confidence");
        Assert.Equal(0.55, confidence.GetProperty("score").GetDouble());
        Assert.Equal("low", confidence.GetProperty("level").GetString());
        Assert.Equal("Low confidence (55%): only 3 events in this day (30 make a full sample).", confidence.GetProperty("explanation").GetString());
        var lenient = await ListAsync(clientId, "&threshold=0.5");
        Assert.Empty(lenient.GetProperty("items").EnumerateArray());
        Assert.Equal(0.5, lenient.GetProperty("threshold").GetDouble());
    }

    [Fact]
    public async Task An_approval_holds_until_a_late_event_changes_the_value_and_is_in_the_audit_trail()
    {
        var clientId = await ClientWithTwoDaysAsync();
        using var reviewer = fixture.CreateClient(fixture.Token(Roles.Admin, clientId, subject: "controller@example.com"));

        using var stale = await DecideAsync(clientId, new { kpiCode = "OTD", granularity = "day", bucketStart = ThinDay, decision = "approved", eventCount = 2 }, reviewer);
        Assert.Equal(HttpStatusCode.Conflict, stale.StatusCode);
        Assert.Equal(3, (await stale.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("current").GetProperty("eventCount").GetInt64());
        using var decided = await DecideAsync(clientId, new { kpiCode = "otd", granularity = "day", bucketStart = ThinDay, decision = "approved", notes = "Pilot week: few orders expected.", eventCount = 3 }, reviewer);
        Assert.True(decided.StatusCode == HttpStatusCode.OK, await decided.Content.ReadAsStringAsync());
        var approved = await ListAsync(clientId, "&status=approved");
        var item = Assert.Single(approved.GetProperty("items").EnumerateArray());
        Assert.Equal("approved", item.GetProperty("status").GetString());
        Assert.Equal("controller@example.com", item.GetProperty("decision").GetProperty("reviewer").GetString());
        Assert.Equal("OTD", item.GetProperty("decision").GetProperty("kpiCode").GetString());
        Assert.Equal("Pilot week: few orders expected.", item.GetProperty("decision").GetProperty("notes").GetString());
        Assert.Equal(ThinDay, item.GetProperty("decision").GetProperty("bucketStart").GetDateTimeOffset());
        // A range from the middle of the day still holds the day, and its decision.
        using var fromNoon = await fixture.Http.GetAsync(
            $"/clients/{clientId}/reviews?from={Uri.EscapeDataString(ThinDay.AddHours(12).ToString("O"))}&to={Uri.EscapeDataString(FullDay.ToString("O"))}&granularity=day");
        Assert.Equal("approved", (await fromNoon.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items")[0].GetProperty("status").GetString());

        await TestClients.PostOrdersAsync(fixture.Http, clientId, TestOrder.Random(1, ThinDay.AddHours(20), 13));
        var pending = new JsonElement();
        await Eventually.HoldsAsync(async () => (pending = await ListAsync(clientId, "&status=pending")).GetProperty("items").GetArrayLength() == 1,
            TimeSpan.FromSeconds(20), () => pending.ToString());

        var reopened = pending.GetProperty("items")[0];
        Assert.Equal(4, reopened.GetProperty("value").GetProperty("eventCount").GetInt64());
        Assert.Equal(3, reopened.GetProperty("decision").GetProperty("reviewedEventCount").GetInt64());
        Assert.Equal("approved", reopened.GetProperty("decision").GetProperty("decision").GetString());
        Assert.Empty((await ListAsync(clientId, "&status=approved")).GetProperty("items").EnumerateArray());
        await Eventually.HoldsAsync(async () =>
            {
                var audit = await fixture.Http.GetFromJsonAsync<JsonElement>($"/audit?clientId={clientId}&actor=controller@example.com");
                return audit.EnumerateArray().Any(e => e.GetProperty("action").GetString() == "POST /clients/{clientId}/reviews"
                    && e.GetProperty("body").GetString()!.Contains("Pilot week", StringComparison.Ordinal));
            },
            TimeSpan.FromSeconds(20), () => "the decision's audit entry");
    }

    [Fact]
    public async Task Rows_that_lack_a_field_the_kpi_reads_lower_its_confidence()
    {
        var clientId = TestClients.NewId("reviewnull");
        await TestClients.CreateAsync(fixture.Http, clientId, "Europe/Berlin", "OTD");
        (await fixture.Http.PostAsJsonAsync($"/clients/{clientId}/custom-kpis", new
        {
            code = "DHL_SHARE", name = "DHL share", formula = "100 * count(orders) filter (where orders.carrier = 'DHL') / count(orders)",
        })).EnsureSuccessStatusCode();
        var orders = TestOrder.Random(40, FullDay.AddHours(10), 14).Select((o, i) => i % 4 == 0 ? o with { carrier = null } : o).ToList();
        await TestClients.PostOrdersAsync(fixture.Http, clientId, orders);

        var list = await ListAsync(clientId, "&kpiCode=DHL_SHARE&threshold=0.99");

        var confidence = Assert.Single(list.GetProperty("items").EnumerateArray()).GetProperty("confidence");
        Assert.Equal(0.93, confidence.GetProperty("score").GetDouble());
        Assert.Equal("High confidence (93%): 10 of its 40 rows lack orders.carrier (75% complete).", confidence.GetProperty("explanation").GetString());
    }

    [Fact]
    public async Task A_decision_must_name_a_bucket_where_it_starts_and_only_admins_decide()
    {
        var clientId = await ClientWithTwoDaysAsync();
        using var analyst = fixture.CreateClient(fixture.Token(Roles.Analyst, clientId));

        using var misaligned = await DecideAsync(clientId, new { kpiCode = "OTD", granularity = "day", bucketStart = ThinDay.AddHours(1), decision = "rejected" });
        using var missing = await DecideAsync(clientId, new { kpiCode = "OTD", granularity = "day", bucketStart = ThinDay });
        using var unknownKpi = await DecideAsync(clientId, new { kpiCode = "NOPE", granularity = "day", bucketStart = ThinDay, decision = "rejected" });
        using var byAnalyst = await DecideAsync(clientId, new { kpiCode = "OTD", granularity = "day", bucketStart = ThinDay, decision = "approved" }, analyst);
        using var badStatus = await fixture.Http.GetAsync($"/clients/{clientId}/reviews?{Range}&status=done");
        using var badThreshold = await fixture.Http.GetAsync($"/clients/{clientId}/reviews?{Range}&threshold=1.5");
        using var wholeRange = await fixture.Http.GetAsync($"/clients/{clientId}/reviews?{Range.Replace("granularity=day", "granularity=range", StringComparison.Ordinal)}");

        Assert.Equal(HttpStatusCode.BadRequest, misaligned.StatusCode);
        var problem = await misaligned.Content.ReadFromJsonAsync<JsonElement>();
        var reason = problem.GetProperty("errors").GetProperty("bucketStart")[0].GetString()!;
        Assert.Equal(ThinDay, DateTimeOffset.Parse(reason[(reason.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
        Assert.Contains("decision", (await missing.Content.ReadAsStringAsync()), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, unknownKpi.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, byAnalyst.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, badStatus.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, badThreshold.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, wholeRange.StatusCode);
        Assert.Equal("pending", (await ListAsync(clientId)).GetProperty("items")[0].GetProperty("status").GetString());
    }
}
