using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AnalyticsEngine.Gateway.Security;

namespace AnalyticsEngine.Integration.Tests.Security;

/// <summary>Every change made or attempted over HTTP is in the audit trail: who, on which client, what, how it ended.</summary>
[Collection(AnalyticsCollection.Name)]
public sealed class AuditTrailTests(AnalyticsFixture fixture)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private async Task<List<JsonElement>> EntriesAsync(string query)
    {
        using var response = await fixture.Http.GetAsync("/audit?" + query);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return [.. (await response.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray()];
    }

    /// <summary>The client's entries once <paramref name="count"/> are there (entries are written after each response has gone).</summary>
    private async Task<List<JsonElement>> AwaitEntriesAsync(string clientId, int count)
    {
        var entries = new List<JsonElement>();
        await Eventually.HoldsAsync(async () => (entries = await EntriesAsync($"clientId={clientId}")).Count >= count, Patience,
            () => $"{entries.Count} of {count} entries: {string.Join(" | ", entries.Select(e => e.GetProperty("action").GetString()))}");
        return entries;
    }

    [Fact]
    public async Task A_configuration_change_is_recorded_with_its_author_its_client_and_the_body_sent()
    {
        var clientId = TestClients.NewId("audit");
        await TestClients.CreateAsync(fixture.Http, clientId);
        using var editor = fixture.CreateClient(fixture.Token(Roles.Admin, clientId, subject: "maria@example.com"));
        using var padded = new StringContent("{\"name\":   " + new string(' ', 20_000) + $"\"Renamed {clientId}\"}}", System.Text.Encoding.UTF8, "application/json");
        (await editor.PutAsync($"/clients/{clientId}", padded)).EnsureSuccessStatusCode();

        var entries = await AwaitEntriesAsync(clientId, 2);

        var change = entries[0];
        Assert.Equal("PUT /clients/{clientId}", change.GetProperty("action").GetString());
        Assert.Equal("maria@example.com", change.GetProperty("actor").GetString());
        Assert.Equal(["admin"], change.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal([clientId], change.GetProperty("clientIds").EnumerateArray().Select(c => c.GetString()));
        Assert.Equal($"/clients/{clientId}", change.GetProperty("path").GetString());
        Assert.Equal(200, change.GetProperty("status").GetInt32());
        Assert.Equal($"{{\"name\":\"Renamed {clientId}\"}}", change.GetProperty("body").GetString());
        Assert.Equal("POST /clients", entries[1].GetProperty("action").GetString());
        Assert.True(entries[0].GetProperty("entryId").GetInt64() > entries[1].GetProperty("entryId").GetInt64());
    }

    [Fact]
    public async Task Refused_attempts_are_recorded_without_their_body_and_queries_not_at_all()
    {
        var clientId = TestClients.NewId("auditno");
        await TestClients.CreateAsync(fixture.Http, clientId);
        using var viewer = fixture.CreateClient(fixture.Token(Roles.Viewer, clientId, subject: "viewer@example.com"));
        using var analyst = fixture.CreateClient(fixture.Token(Roles.Analyst, clientId, subject: "analyst@example.com"));

        using var forbidden = await viewer.PutAsJsonAsync($"/clients/{clientId}", new { name = "Not allowed" });
        using var invalid = await analyst.PostAsJsonAsync($"/clients/{clientId}/custom-kpis", new { code = "BAD", name = "Bad", formula = "count(" });
        using var query = await analyst.PostAsJsonAsync("/calculate", new
        {
            clientId, kpiCode = "POF", from = "2026-11-01T00:00:00Z", to = "2026-11-02T00:00:00Z", granularity = "hour",
        });
        using var ingest = await analyst.PostAsJsonAsync($"/ingest/orders?clientId={clientId}", TestOrder.Random(2, DateTimeOffset.UtcNow.AddMinutes(-5), 7));
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        Assert.Equal(HttpStatusCode.OK, query.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ingest.StatusCode);

        var entries = await AwaitEntriesAsync(clientId, 4);

        Assert.Equal(
            [("POST /ingest/{objectModel}", "analyst@example.com", 200), ("POST /clients/{clientId}/custom-kpis", "analyst@example.com", 400),
             ("PUT /clients/{clientId}", "viewer@example.com", 403), ("POST /clients", "tests", 201)],
            entries.Select(e => (e.GetProperty("action").GetString(), e.GetProperty("actor").GetString(), e.GetProperty("status").GetInt32())));
        Assert.All(entries.Take(3), e => Assert.Equal(JsonValueKind.Null, e.GetProperty("body").ValueKind));
    }

    [Fact]
    public async Task A_refusal_answered_by_an_exception_handler_is_recorded_with_the_status_the_caller_got()
    {
        var clientId = TestClients.NewId("auditexc");
        await TestClients.CreateAsync(fixture.Http, clientId);
        using var malformed = new StringContent("{\"name\": ", System.Text.Encoding.UTF8, "application/json");
        using var refused = await fixture.Http.PutAsync($"/clients/{clientId}", malformed);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);

        var entries = await AwaitEntriesAsync(clientId, 2);

        Assert.Equal([("PUT /clients/{clientId}", 400), ("POST /clients", 201)], entries.Select(e => (e.GetProperty("action").GetString(), e.GetProperty("status").GetInt32())));
        Assert.Equal(JsonValueKind.Null, entries[0].GetProperty("body").ValueKind);
    }

    [Fact]
    public async Task Of_an_actors_refusals_for_want_of_a_role_sixty_a_minute_are_recorded()
    {
        var clientId = TestClients.NewId("auditcap");
        await TestClients.CreateAsync(fixture.Http, clientId);
        var actor = "capped-" + clientId;
        using var analyst = fixture.CreateClient(fixture.Token(Roles.Analyst, clientId, subject: actor));
        for (var i = 0; i < AuditTrail.RefusalsPerMinute + 5; i++)
        {
            using var refused = await analyst.PutAsJsonAsync($"/clients/{clientId}", new { name = "Not an admin" });
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }

        // A change the analyst may make, after the refusals: once it is recorded, every recorded refusal is too.
        (await analyst.PostAsJsonAsync($"/clients/{clientId}/custom-kpis", new { code = "CAPPED", name = "Capped", formula = "count(orders)" }))
            .EnsureSuccessStatusCode();
        var entries = new List<JsonElement>();
        await Eventually.HoldsAsync(async () => (entries = await EntriesAsync($"actor={actor}&limit=1000")).Any(e => e.GetProperty("status").GetInt32() == 201),
            Patience, () => $"{entries.Count} entries");

        Assert.Equal(AuditTrail.RefusalsPerMinute, entries.Count(e => e.GetProperty("status").GetInt32() == 403));
    }

    [Fact]
    public async Task A_request_about_a_job_by_its_id_names_the_jobs_client()
    {
        var clientId = TestClients.NewId("auditjob");
        await TestClients.CreateAsync(fixture.Http, clientId);
        using var scheduled = await fixture.Http.PostAsJsonAsync("/batch/schedule", new
        {
            clientId, kpiCodes = new[] { "POF" }, schedule = new { frequency = "daily", time = "02:00" },
        });
        var jobId = (await scheduled.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("jobId").GetString();
        (await fixture.Http.DeleteAsync($"/batch/jobs/{jobId}")).EnsureSuccessStatusCode();

        var entries = await AwaitEntriesAsync(clientId, 3);

        Assert.Equal(["DELETE /batch/jobs/{jobId}", "POST /batch/schedule", "POST /clients"], entries.Select(e => e.GetProperty("action").GetString()));
        Assert.Equal($"/batch/jobs/{jobId}", entries[0].GetProperty("path").GetString());
    }

    [Fact]
    public async Task A_long_path_is_cut_between_characters_and_recorded()
    {
        var clientId = TestClients.NewId("auditlong");
        await TestClients.CreateAsync(fixture.Http, clientId);
        var actor = "long-" + clientId;
        using var editor = fixture.CreateClient(fixture.Token(Roles.Admin, clientId, subject: actor));
        // An emoji (two UTF-16 characters) across the cut: half of it would be text PostgreSQL cannot store.
        var path = $"/clients/{new string('a', AuditTrail.MaxPathLength - "/clients/".Length - 1)}%F0%9F%98%80";
        using var refused = await editor.PutAsJsonAsync(path, new { name = "x" });
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        (await editor.PutAsJsonAsync($"/clients/{clientId}", new { name = "After the long one" })).EnsureSuccessStatusCode();

        var entries = new List<JsonElement>();
        await Eventually.HoldsAsync(async () => (entries = await EntriesAsync($"actor={actor}")).Count >= 2, Patience, () => $"{entries.Count} entries");

        var cut = entries.Single(e => e.GetProperty("status").GetInt32() == 400).GetProperty("path").GetString()!;
        Assert.Equal("/clients/" + new string('a', AuditTrail.MaxPathLength - "/clients/".Length - 1) + "…", cut);
    }

    [Fact]
    public async Task A_request_no_endpoint_takes_is_not_recorded()
    {
        var clientId = TestClients.NewId("auditroute");
        await TestClients.CreateAsync(fixture.Http, clientId);
        using var plain = new StringContent("{\"name\":\"x\"}", System.Text.Encoding.UTF8, "text/plain");
        using var unsupported = await fixture.Http.PutAsync($"/clients/{clientId}", plain);
        using var patch = await fixture.Http.PatchAsJsonAsync($"/clients/{clientId}", new { name = "x" });
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, unsupported.StatusCode);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, patch.StatusCode);
        (await fixture.Http.PutAsJsonAsync($"/clients/{clientId}", new { name = "Marker" })).EnsureSuccessStatusCode();

        var entries = await AwaitEntriesAsync(clientId, 2);

        Assert.Equal([200, 201], entries.Select(e => e.GetProperty("status").GetInt32()));
    }

    [Fact]
    public async Task A_request_without_a_valid_token_is_not_recorded()
    {
        var clientId = TestClients.NewId("auditanon");
        await TestClients.CreateAsync(fixture.Http, clientId);
        using var anonymous = fixture.CreateClient(token: null);
        using var refused = await anonymous.PutAsJsonAsync($"/clients/{clientId}", new { name = "Anonymous" });
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        // A later change of the same client: once it is in the trail, the refused request's entry would be too.
        (await fixture.Http.PutAsJsonAsync($"/clients/{clientId}", new { name = "Named" })).EnsureSuccessStatusCode();

        var entries = await AwaitEntriesAsync(clientId, 2);

        Assert.Equal([200, 201], entries.Select(e => e.GetProperty("status").GetInt32()));
    }

    [Fact]
    public async Task Connecting_a_dashboard_is_not_recorded()
    {
        var clientId = TestClients.NewId("audithub");
        await TestClients.CreateAsync(fixture.Http, clientId);
        var token = fixture.Token(Roles.Admin, clientId, subject: "hub-" + clientId);
        await using (var hub = await fixture.ConnectHubAsync(token))
        {
            // The negotiation was a POST; once the change below is in the trail, an entry for it would be too.
            using var editor = fixture.CreateClient(token);
            (await editor.PutAsJsonAsync($"/clients/{clientId}", new { name = "After the dashboard" })).EnsureSuccessStatusCode();
        }

        var entries = new List<JsonElement>();
        await Eventually.HoldsAsync(async () => (entries = await EntriesAsync($"actor=hub-{clientId}")).Count >= 1, Patience, () => "the change's entry");

        Assert.Equal(["PUT /clients/{clientId}"], entries.Select(e => e.GetProperty("action").GetString()));
    }

    [Fact]
    public async Task The_trail_is_read_in_pages_newest_first_and_by_actor()
    {
        var clientId = TestClients.NewId("auditpg");
        await TestClients.CreateAsync(fixture.Http, clientId);
        using var editor = fixture.CreateClient(fixture.Token(Roles.Admin, clientId, subject: "pager-" + clientId));
        for (var i = 0; i < 3; i++)
        {
            (await editor.PutAsJsonAsync($"/clients/{clientId}", new { name = $"Name {i}" })).EnsureSuccessStatusCode();
        }

        await AwaitEntriesAsync(clientId, 4);
        using var first = await fixture.Http.GetAsync($"/audit?clientId={clientId}&limit=2");
        var next = first.Headers.GetValues("Link").Single();
        var nextPath = next[(next.IndexOf('<') + 1)..next.IndexOf('>')];
        using var second = await fixture.Http.GetAsync(nextPath);
        var byActor = await EntriesAsync($"actor=pager-{clientId}");

        var names = (await first.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray()
            .Concat((await second.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray())
            .Select(e => e.GetProperty("body").GetString() is { } body ? JsonDocument.Parse(body).RootElement.GetProperty("name").GetString() : null);
        Assert.Equal(["Name 2", "Name 1", "Name 0", "Test " + clientId], names);
        Assert.False(second.Headers.Contains("Link"));
        Assert.Equal(3, byActor.Count);
    }

    [Fact]
    public async Task Only_admins_read_the_trail_and_only_of_the_clients_they_are_granted()
    {
        var mine = TestClients.NewId("auditmine");
        var other = TestClients.NewId("auditother");
        await TestClients.CreateAsync(fixture.Http, mine);
        await TestClients.CreateAsync(fixture.Http, other);
        await AwaitEntriesAsync(other, 1);
        using var admin = fixture.CreateClient(fixture.Token(Roles.Admin, mine));
        using var analyst = fixture.CreateClient(fixture.Token(Roles.Analyst, mine));

        using var all = await admin.GetAsync("/audit?limit=1000");
        using var theirs = await admin.GetAsync($"/audit?clientId={other}");
        using var asAnalyst = await analyst.GetAsync($"/audit?clientId={mine}");
        using var badTime = await fixture.Http.GetAsync("/audit?from=yesterday");
        using var badActor = await fixture.Http.GetAsync("/audit?actor=a%00b");
        using var unencodedPlus = await fixture.Http.GetAsync("/audit?from=2026-11-29T10:00:00+01:00");
        using var zoned = await fixture.Http.GetAsync($"/audit?clientId={mine}&from={Uri.EscapeDataString(DateTimeOffset.Now.ToOffset(TimeSpan.FromHours(5)).AddHours(-1).ToString("O"))}");

        var listed = (await all.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray()
            .SelectMany(e => e.GetProperty("clientIds").EnumerateArray().Select(c => c.GetString())).ToHashSet();
        Assert.Contains(mine, listed);
        Assert.DoesNotContain(other, listed);
        Assert.Equal(HttpStatusCode.Forbidden, theirs.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, asAnalyst.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, badTime.StatusCode);
        Assert.Equal(HttpStatusCode.OK, zoned.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, badActor.StatusCode);
        Assert.Contains("%2B", (await unencodedPlus.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").GetProperty("from")[0].GetString(), StringComparison.Ordinal);
        Assert.NotEmpty((await zoned.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray());
        Assert.Contains("from", (await badTime.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").EnumerateObject().Select(p => p.Name));
    }
}
