using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using AnalyticsEngine.Gateway.Security;

namespace AnalyticsEngine.Integration.Tests;

/// <summary>
/// A client's retention over HTTP: its policy at <c>/clients/{clientId}/retention</c> (saved with the days it comes to,
/// refused by field when wrong), a run at <c>POST /clients/{clientId}/archive/run</c> that moves rows past the active
/// period to the archive, the archive's index at <c>GET /clients/{clientId}/archive</c>, and a query over archived days
/// that answers every row, the archived ones put back first.
/// </summary>
[Collection(AnalyticsCollection.Name)]
public sealed class RetentionApiTests(AnalyticsFixture fixture)
{
    /// <summary>Staged source data 30 days active then archived a year; analytics data 90 days active then deleted.</summary>
    private const string MonthThenAYear = """
        {"stagedSourceData":{"activePeriod":30,"activeUnit":"days","archive":true,"archivePeriod":1,"archiveUnit":"years"},
         "analyticsData":{"activePeriod":90,"activeUnit":"days","archive":false}}
        """;

    /// <summary>The shortest active period a policy may set, for the runs: rows of 15 and 20 days ago are past it, yesterday's not.</summary>
    private const string WeekThenAYear = """
        {"stagedSourceData":{"activePeriod":7,"activeUnit":"days","archive":true,"archivePeriod":1,"archiveUnit":"years"},
         "analyticsData":{"activePeriod":7,"activeUnit":"days","archive":false}}
        """;

    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private async Task<string> ClientAsync(string prefix = "ret")
    {
        var clientId = TestClients.NewId(prefix);
        await TestClients.CreateAsync(fixture.Http, clientId, "Europe/Berlin", "OTD");
        return clientId;
    }

    private async Task<(HttpStatusCode Status, string? Type, string Text)> SendAsync(
        HttpMethod method, string url, string? json = null, HttpClient? http = null, string? mediaType = "application/json")
    {
        using var request = new HttpRequestMessage(method, url);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8);
            request.Content.Headers.ContentType = mediaType is null ? null : new MediaTypeHeaderValue(mediaType);
        }

        using var response = await (http ?? fixture.Http).SendAsync(request);
        return (response.StatusCode, response.Content.Headers.ContentType?.MediaType, await response.Content.ReadAsStringAsync());
    }

    private Task<(HttpStatusCode Status, string? Type, string Text)> PutPolicyAsync(string clientId, string json, HttpClient? http = null) =>
        SendAsync(HttpMethod.Put, $"/clients/{clientId}/retention", json, http);

    /// <summary>A request that must succeed; its body as JSON (none for a 204).</summary>
    private async Task<JsonElement> OkAsync(HttpMethod method, string url, string? json = null, HttpStatusCode expected = HttpStatusCode.OK)
    {
        var (status, _, text) = await SendAsync(method, url, json);
        Assert.True(status == expected, $"{method} {url}: {(int)status} {text}");
        return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement;
    }

    /// <summary>A ProblemDetails answer of this status; its body.</summary>
    private static JsonElement Problem((HttpStatusCode Status, string? Type, string Text) response, HttpStatusCode expected)
    {
        Assert.True(response.Status == expected, $"expected {(int)expected}, got {(int)response.Status}: {response.Text}");
        Assert.Equal("application/problem+json", response.Type);
        return JsonDocument.Parse(response.Text).RootElement;
    }

    /// <summary>The one reason <c>errors</c> gives for <paramref name="field"/>.</summary>
    private static string Error(JsonElement problem, string field)
    {
        var reasons = default(JsonElement);
        Assert.True(problem.TryGetProperty("errors", out var errors) && errors.TryGetProperty(field, out reasons), $"no errors.{field} in {problem}");
        return Assert.Single(reasons.EnumerateArray()).GetString()!;
    }

    private static (int ActiveDays, bool Archive, int? ArchiveDays) Plan(JsonElement plan) => (
        plan.GetProperty("activeDays").GetInt32(),
        plan.GetProperty("archive").GetBoolean(),
        plan.TryGetProperty("archiveDays", out var days) && days.ValueKind != JsonValueKind.Null ? days.GetInt32() : null);

    private static string Escaped(DateTimeOffset instant) => Uri.EscapeDataString(instant.ToString("O", CultureInfo.InvariantCulture));

    /// <summary>The orders of the client still in the active table, whatever the archive holds.</summary>
    private async Task<long> ActiveOrdersAsync(string clientId)
    {
        await using var command = fixture.Database.CreateCommand("SELECT count(*) FROM scor_data.orders WHERE client_id = $1");
        command.Parameters.AddWithValue(clientId);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>OTD over [from, to) as one bucket; the answer's only value.</summary>
    private async Task<JsonElement> OnTimeDeliveryAsync(string clientId, DateTimeOffset from, DateTimeOffset to)
    {
        var result = await OkAsync(HttpMethod.Post, "/calculate", JsonSerializer.Serialize(new { clientId, kpiCode = "OTD", from, to, granularity = "range" }));
        return Assert.Single(Assert.Single(result.GetProperty("series").EnumerateArray()).GetProperty("values").EnumerateArray());
    }

    // ---------------------------------------------------------------------------------------------
    // The policy
    // ---------------------------------------------------------------------------------------------

    [Fact]
    public async Task A_valid_policy_is_saved_with_the_days_it_comes_to_and_read_back_as_saved()
    {
        var clientId = await ClientAsync();

        var saved = await OkAsync(HttpMethod.Put, $"/clients/{clientId}/retention", MonthThenAYear);
        var read = await OkAsync(HttpMethod.Get, $"/clients/{clientId}/retention");

        Assert.Equal(clientId, saved.GetProperty("clientId").GetString());
        Assert.Equal("tests", saved.GetProperty("updatedBy").GetString());
        var effective = saved.GetProperty("effective");
        // A year is 365 days; nothing here is under a compliance regime, so nothing is lengthened.
        Assert.Equal((30, true, 365), Plan(effective.GetProperty("stagedSourceData")));
        Assert.Equal((90, false, (int?)null), Plan(effective.GetProperty("analyticsData")));
        Assert.Empty(effective.GetProperty("notes").EnumerateArray());
        var answers = saved.GetProperty("answers").GetProperty("stagedSourceData");
        Assert.Equal((30, "days", true, 1, "years"), (answers.GetProperty("activePeriod").GetInt32(), answers.GetProperty("activeUnit").GetString(),
            answers.GetProperty("archive").GetBoolean(), answers.GetProperty("archivePeriod").GetInt32(), answers.GetProperty("archiveUnit").GetString()));
        // What GET answers is what PUT saved, to the instant it was saved.
        Assert.Equal(saved.GetRawText(), read.GetRawText());
    }

    [Fact]
    public async Task Sox_archives_longer_to_meet_its_seven_years_and_says_so_in_a_note()
    {
        var clientId = await ClientAsync();

        var saved = await OkAsync(HttpMethod.Put, $"/clients/{clientId}/retention", """
            {"stagedSourceData":{"activePeriod":30,"activeUnit":"days","archive":true,"archivePeriod":1,"archiveUnit":"years"},
             "analyticsData":{"activePeriod":1,"activeUnit":"years","archive":false},
             "compliance":["sox"]}
            """);

        var effective = saved.GetProperty("effective");
        // SOX keeps 7 × 365 = 2,555 days in all: the archive takes what the active period does not.
        Assert.Equal((30, true, 2_525), Plan(effective.GetProperty("stagedSourceData")));
        // Data the answers would delete is archived instead.
        Assert.Equal((365, true, 2_190), Plan(effective.GetProperty("analyticsData")));
        Assert.Equal(["sox"], effective.GetProperty("compliance").EnumerateArray().Select(c => c.GetString()));
        var notes = effective.GetProperty("notes").EnumerateArray().Select(n => n.GetString()!).ToList();
        Assert.Equal(2, notes.Count);
        Assert.Contains("2,525 days", notes[0], StringComparison.Ordinal);
        Assert.Contains("SOX", notes[0], StringComparison.Ordinal);
        Assert.Contains("395 days", notes[0], StringComparison.Ordinal);
        Assert.Contains("2,190 days", notes[1], StringComparison.Ordinal);
        // The answers are kept as given: the note, not the answers, says what compliance changed.
        Assert.Equal(1, saved.GetProperty("answers").GetProperty("stagedSourceData").GetProperty("archivePeriod").GetInt32());
    }

    [Fact]
    public async Task Answers_not_given_take_the_questionnaires_recommendation()
    {
        var clientId = await ClientAsync();

        var saved = await OkAsync(HttpMethod.Put, $"/clients/{clientId}/retention", "{}");

        var effective = saved.GetProperty("effective");
        Assert.Equal((90, true, 5 * 365), Plan(effective.GetProperty("stagedSourceData")));
        Assert.Equal((365, true, 5 * 365), Plan(effective.GetProperty("analyticsData")));
    }

    [Fact]
    public async Task A_second_put_replaces_the_policy()
    {
        var clientId = await ClientAsync();
        await OkAsync(HttpMethod.Put, $"/clients/{clientId}/retention", MonthThenAYear);

        await OkAsync(HttpMethod.Put, $"/clients/{clientId}/retention", WeekThenAYear);

        var read = await OkAsync(HttpMethod.Get, $"/clients/{clientId}/retention");
        Assert.Equal((7, true, 365), Plan(read.GetProperty("effective").GetProperty("stagedSourceData")));
        Assert.Equal((7, false, (int?)null), Plan(read.GetProperty("effective").GetProperty("analyticsData")));
    }

    [Fact]
    public async Task Deleting_the_policy_is_204_then_reading_or_deleting_it_again_is_404()
    {
        var clientId = await ClientAsync();
        var never = Problem(await SendAsync(HttpMethod.Get, $"/clients/{clientId}/retention"), HttpStatusCode.NotFound);
        await OkAsync(HttpMethod.Put, $"/clients/{clientId}/retention", MonthThenAYear);

        var (deleted, _, body) = await SendAsync(HttpMethod.Delete, $"/clients/{clientId}/retention");
        var gone = Problem(await SendAsync(HttpMethod.Get, $"/clients/{clientId}/retention"), HttpStatusCode.NotFound);
        var again = Problem(await SendAsync(HttpMethod.Delete, $"/clients/{clientId}/retention"), HttpStatusCode.NotFound);

        Assert.Equal(HttpStatusCode.NoContent, deleted);
        Assert.Empty(body);
        // A client without a policy is told apart from a client that does not exist.
        foreach (var problem in new[] { never, gone, again })
        {
            Assert.Equal("Not found", problem.GetProperty("title").GetString());
            Assert.Contains("has no retention policy", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
            Assert.Contains($"'{clientId}'", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Refused policies
    // ---------------------------------------------------------------------------------------------

    [Theory]
    [InlineData("""{"stagedSourceData":{"activePeriod":3,"activeUnit":"days","archive":false}}""", "stagedSourceData.activePeriod", "at least 7 days")]
    [InlineData("""{"analyticsData":{"activePeriod":6,"activeUnit":"days","archive":false}}""", "analyticsData.activePeriod", "at least 7 days")]
    [InlineData("""{"stagedSourceData":{"activePeriod":0,"activeUnit":"days","archive":false}}""", "stagedSourceData.activePeriod", "from 1 day to 100 years")]
    [InlineData("""{"stagedSourceData":{"activePeriod":101,"activeUnit":"years","archive":false}}""", "stagedSourceData.activePeriod", "from 1 day to 100 years")]
    [InlineData("""{"stagedSourceData":{"activePeriod":30,"activeUnit":"days","archive":true,"archivePeriod":1}}""", "stagedSourceData.archiveUnit", "how long archives are kept")]
    [InlineData("""{"stagedSourceData":{"activePeriod":30,"activeUnit":"days","archive":true,"archiveUnit":"years"}}""", "stagedSourceData.archivePeriod", "how many years")]
    [InlineData("""{"stagedSourceData":{"activePeriod":30,"activeUnit":"days","archive":true,"archivePeriod":2,"archiveUnit":"indefinite"}}""", "stagedSourceData.archivePeriod", "no period")]
    [InlineData("""{"analyticsData":{"activePeriod":30,"activeUnit":"days","archive":false,"archivePeriod":1,"archiveUnit":"years"}}""", "analyticsData.archive", "is false")]
    [InlineData("""{"stagedSourceData":{"activePeriod":30,"activeUnit":"indefinite","archive":false}}""", "stagedSourceData.activeUnit", "archive it to keep it for good")]
    [InlineData("""{"stagedSourceData":{"activePeriod":30,"activeUnit":"weeks","archive":false}}""", "stagedSourceData.activeUnit", "days, months, years, indefinite")]
    [InlineData("""{"stagedSourceData":{"activePeriod":30,"activeUnit":"days"}}""", "stagedSourceData.archive", "is required")]
    [InlineData("""{"stagedSourceData":{"activeUnit":"days","archive":false}}""", "stagedSourceData.activePeriod", "is required")]
    [InlineData("""{"stagedSourceData":{"activePeriod":30,"activeUnit":"days","archive":false,"activeDays":30}}""", "stagedSourceData.activeDays", "is not a field")]
    [InlineData("""{"stagedSourceData":{"activePeriod":"30","activeUnit":"days","archive":false}}""", "stagedSourceData.activePeriod", "")]
    [InlineData("""{"stagedSourceData":{"activePeriod":30.5,"activeUnit":"days","archive":false}}""", "stagedSourceData.activePeriod", "is not a whole number from 1 to 36500")]
    [InlineData("""{"analyticsData":{"activePeriod":30,"activeUnit":"days","archive":true,"archivePeriod":3e9,"archiveUnit":"days"}}""", "analyticsData.archivePeriod", "is not a whole number from 1 to 36500")]
    [InlineData("""{"compliance":["sox","pci"]}""", "compliance[1]", "gdpr, sox, hipaa, iso27001")]
    [InlineData("""{"compliance":["sox"],"otherCompliance":"two\nlines"}""", "otherCompliance", "one line")]
    public async Task An_invalid_policy_is_400_naming_its_field_and_the_saved_policy_stays(string json, string field, string reason)
    {
        var clientId = await ClientAsync();
        await OkAsync(HttpMethod.Put, $"/clients/{clientId}/retention", MonthThenAYear);

        var problem = Problem(await PutPolicyAsync(clientId, json), HttpStatusCode.BadRequest);

        Assert.Contains(reason, Error(problem, field), StringComparison.Ordinal);
        // The one field at fault, and no other: a reason filed under the wrong name would not tell the caller what to fix.
        Assert.Equal([field], problem.GetProperty("errors").EnumerateObject().Select(e => e.Name));
        var read = await OkAsync(HttpMethod.Get, $"/clients/{clientId}/retention");
        Assert.Equal((30, true, 365), Plan(read.GetProperty("effective").GetProperty("stagedSourceData")));
    }

    [Fact]
    public async Task A_body_that_is_not_json_is_400_and_a_body_of_another_media_type_is_415()
    {
        var clientId = await ClientAsync();

        var malformed = Problem(await PutPolicyAsync(clientId, """{"stagedSourceData": {"activePeriod": 30,"""), HttpStatusCode.BadRequest);
        var empty = Problem(await SendAsync(HttpMethod.Put, $"/clients/{clientId}/retention"), HttpStatusCode.BadRequest);
        var array = Problem(await PutPolicyAsync(clientId, "[]"), HttpStatusCode.BadRequest);
        var text = Problem(await SendAsync(HttpMethod.Put, $"/clients/{clientId}/retention", MonthThenAYear, mediaType: "text/plain"),
            HttpStatusCode.UnsupportedMediaType);

        Assert.StartsWith("The body is not valid JSON", malformed.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal("The body must be a JSON object.", empty.GetProperty("detail").GetString());
        Assert.Equal("The body is not the JSON object this endpoint reads.", array.GetProperty("detail").GetString());
        Assert.Equal("Unsupported media type", text.GetProperty("title").GetString());
        Assert.StartsWith("Send the body as application/json", text.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains("'text/plain", text.GetProperty("detail").GetString(), StringComparison.Ordinal);
        // None of them saved anything.
        Problem(await SendAsync(HttpMethod.Get, $"/clients/{clientId}/retention"), HttpStatusCode.NotFound);
    }

    // ---------------------------------------------------------------------------------------------
    // Who may, and on which client
    // ---------------------------------------------------------------------------------------------

    [Fact]
    public async Task A_client_that_does_not_exist_is_404_on_every_endpoint_and_gets_no_policy()
    {
        var clientId = TestClients.NewId("retnone");

        var responses = new[]
        {
            await PutPolicyAsync(clientId, MonthThenAYear),
            await SendAsync(HttpMethod.Get, $"/clients/{clientId}/retention"),
            await SendAsync(HttpMethod.Delete, $"/clients/{clientId}/retention"),
            await SendAsync(HttpMethod.Post, $"/clients/{clientId}/archive/run"),
            await SendAsync(HttpMethod.Get, $"/clients/{clientId}/archive"),
        };

        Assert.All(responses, response =>
            Assert.Equal($"Client '{clientId}' does not exist.", Problem(response, HttpStatusCode.NotFound).GetProperty("detail").GetString()));
        // The refused PUT left nothing behind for a client of that id created later.
        await TestClients.CreateAsync(fixture.Http, clientId, "Europe/Berlin", "OTD");
        var later = Problem(await SendAsync(HttpMethod.Get, $"/clients/{clientId}/retention"), HttpStatusCode.NotFound);
        Assert.Contains("has no retention policy", later.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_token_that_does_not_grant_the_client_is_403_on_every_endpoint()
    {
        var clientId = await ClientAsync();
        await OkAsync(HttpMethod.Put, $"/clients/{clientId}/retention", MonthThenAYear);
        using var otherAdmin = fixture.CreateClient(fixture.Token(Roles.Admin, "someone-else"));

        var responses = new[]
        {
            await PutPolicyAsync(clientId, WeekThenAYear, otherAdmin),
            await SendAsync(HttpMethod.Get, $"/clients/{clientId}/retention", http: otherAdmin),
            await SendAsync(HttpMethod.Delete, $"/clients/{clientId}/retention", http: otherAdmin),
            await SendAsync(HttpMethod.Post, $"/clients/{clientId}/archive/run", http: otherAdmin),
            await SendAsync(HttpMethod.Get, $"/clients/{clientId}/archive", http: otherAdmin),
        };

        Assert.All(responses, response =>
            Assert.Equal(ClientAccess.DeniedMessage(clientId), Problem(response, HttpStatusCode.Forbidden).GetProperty("detail").GetString()));
        var read = await OkAsync(HttpMethod.Get, $"/clients/{clientId}/retention");
        Assert.Equal((30, true, 365), Plan(read.GetProperty("effective").GetProperty("stagedSourceData")));
    }

    [Fact]
    public async Task A_viewer_reads_the_policy_and_the_archive_but_only_an_admin_changes_or_runs_it()
    {
        var clientId = await ClientAsync();
        var saved = await OkAsync(HttpMethod.Put, $"/clients/{clientId}/retention", MonthThenAYear);
        using var viewer = fixture.CreateClient(fixture.Token(Roles.Viewer, clientId));
        using var analyst = fixture.CreateClient(fixture.Token(Roles.Analyst, clientId));

        var read = await SendAsync(HttpMethod.Get, $"/clients/{clientId}/retention", http: viewer);
        var listed = await SendAsync(HttpMethod.Get, $"/clients/{clientId}/archive", http: viewer);
        var refused = new[]
        {
            await PutPolicyAsync(clientId, WeekThenAYear, viewer),
            await SendAsync(HttpMethod.Delete, $"/clients/{clientId}/retention", http: viewer),
            await SendAsync(HttpMethod.Post, $"/clients/{clientId}/archive/run", http: viewer),
            await PutPolicyAsync(clientId, WeekThenAYear, analyst),
            await SendAsync(HttpMethod.Delete, $"/clients/{clientId}/retention", http: analyst),
            await SendAsync(HttpMethod.Post, $"/clients/{clientId}/archive/run", http: analyst),
        };

        Assert.True(read.Status == HttpStatusCode.OK, read.Text);
        Assert.Equal(saved.GetRawText(), JsonDocument.Parse(read.Text).RootElement.GetRawText());
        Assert.True(listed.Status == HttpStatusCode.OK, listed.Text);
        Assert.Empty(JsonDocument.Parse(listed.Text).RootElement.GetProperty("segments").EnumerateArray());
        Assert.All(refused, response =>
            Assert.Contains("admin", Problem(response, HttpStatusCode.Forbidden).GetProperty("detail").GetString(), StringComparison.Ordinal));
        // Neither changed the policy.
        Assert.Equal(saved.GetRawText(), (await OkAsync(HttpMethod.Get, $"/clients/{clientId}/retention")).GetRawText());
    }

    [Fact]
    public async Task Setting_and_removing_a_policy_are_in_the_audit_trail_with_the_body_sent()
    {
        var clientId = await ClientAsync("retaudit");
        using var admin = fixture.CreateClient(fixture.Token(Roles.Admin, clientId, subject: "retention-admin@example.com"));
        var (set, _, setText) = await PutPolicyAsync(clientId, MonthThenAYear, admin);
        Assert.True(set == HttpStatusCode.OK, setText);
        Assert.Equal("retention-admin@example.com", JsonDocument.Parse(setText).RootElement.GetProperty("updatedBy").GetString());
        var (removed, _, _) = await SendAsync(HttpMethod.Delete, $"/clients/{clientId}/retention", http: admin);
        Assert.Equal(HttpStatusCode.NoContent, removed);

        // Entries are written after each response has gone: wait for all three (the client's creation, the PUT, the DELETE).
        var entries = new List<JsonElement>();
        await Eventually.HoldsAsync(async () =>
            {
                entries = [.. (await fixture.Http.GetFromJsonAsync<JsonElement>($"/audit?clientId={clientId}")).EnumerateArray()];
                return entries.Count >= 3;
            },
            Patience, () => string.Join(" | ", entries.Select(e => e.GetProperty("action").GetString())));

        Assert.Equal(
            [("DELETE /clients/{clientId}/retention", 204), ("PUT /clients/{clientId}/retention", 200), ("POST /clients", 201)],
            entries.Select(e => (e.GetProperty("action").GetString(), e.GetProperty("status").GetInt32())));
        var put = entries[1];
        Assert.Equal("retention-admin@example.com", put.GetProperty("actor").GetString());
        Assert.Equal($"/clients/{clientId}/retention", put.GetProperty("path").GetString());
        Assert.Equal([clientId], put.GetProperty("clientIds").EnumerateArray().Select(c => c.GetString()));
        Assert.Contains("\"activePeriod\":30", put.GetProperty("body").GetString(), StringComparison.Ordinal);
    }

    // ---------------------------------------------------------------------------------------------
    // Runs, the archive and queries over it
    // ---------------------------------------------------------------------------------------------

    [Fact]
    public async Task Running_without_a_policy_is_409_before_one_is_set_and_after_it_is_removed()
    {
        var clientId = await ClientAsync();

        var before = Problem(await SendAsync(HttpMethod.Post, $"/clients/{clientId}/archive/run"), HttpStatusCode.Conflict);
        await OkAsync(HttpMethod.Put, $"/clients/{clientId}/retention", WeekThenAYear);
        await OkAsync(HttpMethod.Delete, $"/clients/{clientId}/retention", expected: HttpStatusCode.NoContent);
        var after = Problem(await SendAsync(HttpMethod.Post, $"/clients/{clientId}/archive/run"), HttpStatusCode.Conflict);

        foreach (var problem in new[] { before, after })
        {
            Assert.Equal("No retention policy", problem.GetProperty("title").GetString());
            Assert.Contains($"PUT /clients/{clientId}/retention", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_run_archives_the_rows_past_the_active_period_and_a_query_over_them_counts_every_row()
    {
        var clientId = await ClientAsync("retrun");
        // Two old days (5 and 3 orders) past a week's active period, and 4 orders of yesterday within it.
        var twentyDaysAgo = TestOrder.Random(5, TestOrder.MinuteStart(20 * 24 * 60), 201);
        var fifteenDaysAgo = TestOrder.Random(3, TestOrder.MinuteStart(15 * 24 * 60), 202);
        var yesterday = TestOrder.Random(4, TestOrder.MinuteStart(24 * 60), 203);
        List<TestOrder> all = [.. twentyDaysAgo, .. fifteenDaysAgo, .. yesterday];
        await TestClients.PostOrdersAsync(fixture.Http, clientId, all);
        await OkAsync(HttpMethod.Put, $"/clients/{clientId}/retention", WeekThenAYear);

        var run = await OkAsync(HttpMethod.Post, $"/clients/{clientId}/archive/run");

        Assert.Equal(8, run.GetProperty("rowsArchived").GetInt64());
        Assert.Equal(2, run.GetProperty("segmentsWritten").GetInt32());
        Assert.Equal(0, run.GetProperty("rowsDeleted").GetInt64());
        // The horizon is the start of the run's UTC day less the 7 active days.
        var ranAt = run.GetProperty("ranAt").GetDateTimeOffset();
        var horizon = new DateTimeOffset(ranAt.UtcDateTime.Date, TimeSpan.Zero).AddDays(-7);
        Assert.Equal(horizon, run.GetProperty("sourceHorizon").GetDateTimeOffset());
        Assert.Equal(4, await ActiveOrdersAsync(clientId));

        var listing = await OkAsync(HttpMethod.Get, $"/clients/{clientId}/archive");
        Assert.Equal(clientId, listing.GetProperty("clientId").GetString());
        var segments = listing.GetProperty("segments").EnumerateArray().ToList();
        Assert.Equal(run.GetProperty("rowsArchived").GetInt64(), segments.Sum(s => s.GetProperty("rows").GetInt64()));
        // A UTC day per segment, oldest first.
        Assert.Equal([5L, 3L], segments.Select(s => s.GetProperty("rows").GetInt64()));
        Assert.Equal(
            [new DateTimeOffset(twentyDaysAgo[0].ordered_at.UtcDateTime.Date, TimeSpan.Zero), new DateTimeOffset(fifteenDaysAgo[0].ordered_at.UtcDateTime.Date, TimeSpan.Zero)],
            segments.Select(s => s.GetProperty("from").GetDateTimeOffset()));
        Assert.All(segments, s =>
        {
            Assert.Equal("source", s.GetProperty("kind").GetString());
            Assert.Equal("orders", s.GetProperty("source").GetString());
            Assert.Equal(s.GetProperty("from").GetDateTimeOffset().AddDays(1), s.GetProperty("to").GetDateTimeOffset());
            Assert.True(s.GetProperty("bytes").GetInt64() > 0, s.ToString());
            Assert.Matches("^[0-9a-f]{64}$", s.GetProperty("sha256").GetString());
            // Kept its 7 active days and then its 365 archive days after its newest time.
            Assert.Equal(s.GetProperty("to").GetDateTimeOffset().AddDays(7 + 365), s.GetProperty("expiresAt").GetDateTimeOffset());
            Assert.Equal(JsonValueKind.Null, s.GetProperty("restoredUntil").ValueKind);
        });

        // A query over both old days and yesterday: the archived rows are put back for it, so it counts all 12.
        var from = TestOrder.MinuteStart(25 * 24 * 60);
        var to = TestOrder.MinuteStart(-60);
        var value = await OnTimeDeliveryAsync(clientId, from, to);

        Assert.Equal(all.Count, value.GetProperty("eventCount").GetInt64());
        Assert.Equal(TestOrder.OnTimePercent(all), value.GetProperty("value").GetDouble(), 9);
        Assert.Equal(all.Count, await ActiveOrdersAsync(clientId));
        var restored = (await OkAsync(HttpMethod.Get, $"/clients/{clientId}/archive")).GetProperty("segments").EnumerateArray().ToList();
        Assert.Equal(2, restored.Count);
        Assert.All(restored, s => Assert.True(
            s.GetProperty("restoredUntil").ValueKind == JsonValueKind.String && s.GetProperty("restoredUntil").GetDateTimeOffset() > DateTimeOffset.UtcNow,
            s.ToString()));

        // A run while the rows are restored archives none of them again, and another query counts each row once.
        var again = await OkAsync(HttpMethod.Post, $"/clients/{clientId}/archive/run");
        Assert.Equal(0, again.GetProperty("rowsArchived").GetInt64());
        Assert.Equal(0, again.GetProperty("segmentsWritten").GetInt32());
        Assert.Equal(2, (await OkAsync(HttpMethod.Get, $"/clients/{clientId}/archive")).GetProperty("segments").GetArrayLength());
        // Another range than before, so no cached answer stands in for the query.
        Assert.Equal(all.Count, (await OnTimeDeliveryAsync(clientId, from.AddDays(-1), to)).GetProperty("eventCount").GetInt64());
    }

    [Fact]
    public async Task A_segment_is_handed_out_as_stored_or_as_its_csv_to_analysts_of_its_client_only()
    {
        var clientId = await ClientAsync("retfile");
        var orders = TestOrder.Random(3, TestOrder.MinuteStart(20 * 24 * 60), 221);
        await TestClients.PostOrdersAsync(fixture.Http, clientId, orders);
        await OkAsync(HttpMethod.Put, $"/clients/{clientId}/retention", WeekThenAYear);
        Assert.Equal(3, (await OkAsync(HttpMethod.Post, $"/clients/{clientId}/archive/run")).GetProperty("rowsArchived").GetInt64());
        var segment = Assert.Single((await OkAsync(HttpMethod.Get, $"/clients/{clientId}/archive")).GetProperty("segments").EnumerateArray());
        var segmentId = segment.GetProperty("segmentId").GetInt64();

        using var analyst = fixture.CreateClient(fixture.Token(Roles.Analyst, clientId));
        using var gzip = await analyst.GetAsync($"/clients/{clientId}/archive/{segmentId}");
        Assert.Equal(HttpStatusCode.OK, gzip.StatusCode);
        Assert.Equal("application/gzip", gzip.Content.Headers.ContentType?.MediaType);
        var stored = await gzip.Content.ReadAsByteArrayAsync();
        Assert.Equal(segment.GetProperty("bytes").GetInt64(), stored.Length);
        Assert.Equal(segment.GetProperty("sha256").GetString(), Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(stored)));
        using var unzipped = new StreamReader(new System.IO.Compression.GZipStream(new MemoryStream(stored), System.IO.Compression.CompressionMode.Decompress));
        var text = await unzipped.ReadToEndAsync();

        var csv = await analyst.GetStringAsync($"/clients/{clientId}/archive/{segmentId}?format=csv");
        Assert.Equal(text, csv);
        var lines = csv.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("client_id,sequence,", lines[0], StringComparison.Ordinal);
        Assert.Equal(orders.Count + 1, lines.Length);
        Assert.All(orders, o => Assert.Contains(lines, l => l.Contains($",{o.order_id},", StringComparison.Ordinal)));

        // Another client's segment is not this client's to hand out; a viewer reads KPI values, not rows.
        var other = await ClientAsync("retfile");
        Problem(await SendAsync(HttpMethod.Get, $"/clients/{other}/archive/{segmentId}"), HttpStatusCode.NotFound);
        Problem(await SendAsync(HttpMethod.Get, $"/clients/{clientId}/archive/{segmentId + 1_000_000}"), HttpStatusCode.NotFound);
        Assert.Contains("not csv", Error(Problem(await SendAsync(HttpMethod.Get, $"/clients/{clientId}/archive/{segmentId}?format=xml"), HttpStatusCode.BadRequest), "format"),
            StringComparison.Ordinal);
        using var viewer = fixture.CreateClient(fixture.Token(Roles.Viewer, clientId));
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.GetAsync($"/clients/{clientId}/archive/{segmentId}")).StatusCode);
    }

    [Fact]
    public async Task The_archive_listing_keeps_its_segments_after_the_policy_is_removed_and_no_longer_says_when_they_expire()
    {
        var clientId = await ClientAsync("retkeep");
        await TestClients.PostOrdersAsync(fixture.Http, clientId, TestOrder.Random(2, TestOrder.MinuteStart(20 * 24 * 60), 211));
        await OkAsync(HttpMethod.Put, $"/clients/{clientId}/retention", WeekThenAYear);
        Assert.Equal(2, (await OkAsync(HttpMethod.Post, $"/clients/{clientId}/archive/run")).GetProperty("rowsArchived").GetInt64());

        await OkAsync(HttpMethod.Delete, $"/clients/{clientId}/retention", expected: HttpStatusCode.NoContent);

        var segment = Assert.Single((await OkAsync(HttpMethod.Get, $"/clients/{clientId}/archive")).GetProperty("segments").EnumerateArray());
        Assert.Equal(2, segment.GetProperty("rows").GetInt64());
        Assert.Equal(JsonValueKind.Null, segment.GetProperty("expiresAt").ValueKind);
    }

    [Fact]
    public async Task A_policy_that_archives_nothing_deletes_the_old_rows_and_the_archive_stays_empty()
    {
        var clientId = await ClientAsync("retdel");
        var old = TestOrder.Random(6, TestOrder.MinuteStart(20 * 24 * 60), 221);
        var recent = TestOrder.Random(2, TestOrder.MinuteStart(24 * 60), 222);
        await TestClients.PostOrdersAsync(fixture.Http, clientId, [.. old, .. recent]);
        await OkAsync(HttpMethod.Put, $"/clients/{clientId}/retention", """
            {"stagedSourceData":{"activePeriod":7,"activeUnit":"days","archive":false},
             "analyticsData":{"activePeriod":7,"activeUnit":"days","archive":false}}
            """);

        var run = await OkAsync(HttpMethod.Post, $"/clients/{clientId}/archive/run");

        Assert.Equal(old.Count, run.GetProperty("rowsDeleted").GetInt64());
        Assert.Equal(0, run.GetProperty("rowsArchived").GetInt64());
        Assert.Equal(0, run.GetProperty("segmentsWritten").GetInt32());
        Assert.Empty((await OkAsync(HttpMethod.Get, $"/clients/{clientId}/archive")).GetProperty("segments").EnumerateArray());
        // Deleted rows are gone for good: a query over their days counts only the recent ones.
        var value = await OnTimeDeliveryAsync(clientId, TestOrder.MinuteStart(25 * 24 * 60), TestOrder.MinuteStart(-60));
        Assert.Equal(recent.Count, value.GetProperty("eventCount").GetInt64());
    }

    [Fact]
    public async Task The_archive_listing_takes_a_range_and_a_limit()
    {
        var clientId = await ClientAsync("retlist");
        var twentyDaysAgo = TestOrder.Random(2, TestOrder.MinuteStart(20 * 24 * 60), 231);
        var fifteenDaysAgo = TestOrder.Random(3, TestOrder.MinuteStart(15 * 24 * 60), 232);
        await TestClients.PostOrdersAsync(fixture.Http, clientId, [.. twentyDaysAgo, .. fifteenDaysAgo]);
        await OkAsync(HttpMethod.Put, $"/clients/{clientId}/retention", WeekThenAYear);
        await OkAsync(HttpMethod.Post, $"/clients/{clientId}/archive/run");
        var laterDay = new DateTimeOffset(fifteenDaysAgo[0].ordered_at.UtcDateTime.Date, TimeSpan.Zero);

        var first = await OkAsync(HttpMethod.Get, $"/clients/{clientId}/archive?limit=1");
        var fromLaterDay = await OkAsync(HttpMethod.Get, $"/clients/{clientId}/archive?from={Escaped(laterDay)}");
        // [from, to) overlaps a segment only when it reaches into the segment's day: a range ending as it starts does not.
        var beforeLaterDay = await OkAsync(HttpMethod.Get, $"/clients/{clientId}/archive?from={Escaped(laterDay.AddDays(-30))}&to={Escaped(laterDay)}");
        var afterBoth = await OkAsync(HttpMethod.Get, $"/clients/{clientId}/archive?from={Escaped(laterDay.AddDays(1))}");

        Assert.Equal([2L], first.GetProperty("segments").EnumerateArray().Select(s => s.GetProperty("rows").GetInt64()));
        Assert.Equal([3L], fromLaterDay.GetProperty("segments").EnumerateArray().Select(s => s.GetProperty("rows").GetInt64()));
        Assert.Equal([2L], beforeLaterDay.GetProperty("segments").EnumerateArray().Select(s => s.GetProperty("rows").GetInt64()));
        Assert.Empty(afterBoth.GetProperty("segments").EnumerateArray());
    }

    [Theory]
    [InlineData("limit=0", "limit", "between 1 and 5000")]
    [InlineData("limit=5001", "limit", "between 1 and 5000")]
    [InlineData("limit=ten", "limit", "'ten' is not a whole number from 1 to 5000")]
    [InlineData("from=yesterday", "from", "'yesterday' is not an ISO 8601 time")]
    [InlineData("to=2026-11-01T00:00:00", "to", "is not an ISO 8601 time")]
    [InlineData("from=2026-11-01T00:00:00+02:00", "from", "%2B")]
    [InlineData("from=2026-11-02T00:00:00Z&to=2026-11-02T00:00:00Z", "to", "must be after from")]
    [InlineData("from=2026-11-03T00:00:00Z&to=2026-11-02T00:00:00Z", "to", "must be after from")]
    [InlineData("from=2026-11-01T00:00:00Z&from=2026-11-02T00:00:00Z", "from", "is given 2 times")]
    [InlineData("kind=source", "kind", "is not a parameter of this endpoint")]
    [InlineData("clientId=other", "clientId", "")]
    public async Task A_bad_archive_query_is_400_naming_the_parameter(string query, string parameter, string reason)
    {
        var clientId = await ClientAsync();

        var problem = Problem(await SendAsync(HttpMethod.Get, $"/clients/{clientId}/archive?{query}"), HttpStatusCode.BadRequest);

        Assert.Contains(reason, Error(problem, parameter), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/retention")]
    [InlineData("/archive")]
    public async Task The_policy_and_the_index_answer_json_only(string path)
    {
        var clientId = await ClientAsync();
        await OkAsync(HttpMethod.Put, $"/clients/{clientId}/retention", WeekThenAYear);

        Assert.Contains("json", Error(Problem(await SendAsync(HttpMethod.Get, $"/clients/{clientId}{path}?format=csv"), HttpStatusCode.BadRequest), "format"),
            StringComparison.Ordinal);
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/clients/{clientId}{path}");
        request.Headers.Accept.ParseAdd("application/xml");
        using var response = await fixture.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.NotAcceptable, response.StatusCode);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(406, problem.RootElement.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(problem.RootElement.GetProperty("traceId").GetString()));
    }

    [Theory]
    [InlineData("GET", "/retention")]
    [InlineData("PUT", "/retention")]
    [InlineData("DELETE", "/retention")]
    [InlineData("POST", "/archive/run")]
    public async Task A_query_parameter_the_endpoint_does_not_take_is_400_naming_it(string method, string path)
    {
        var clientId = await ClientAsync();
        await OkAsync(HttpMethod.Put, $"/clients/{clientId}/retention", WeekThenAYear);

        var response = await SendAsync(new HttpMethod(method), $"/clients/{clientId}{path}?force=true", method == "PUT" ? MonthThenAYear : null);

        var problem = Problem(response, HttpStatusCode.BadRequest);
        Assert.Equal("Unknown query parameter", problem.GetProperty("title").GetString());
        Assert.Contains("is not a parameter of this endpoint", Error(problem, "force"), StringComparison.Ordinal);
        // Refused before the handler ran: the PUT did not replace the week's policy, nor did the DELETE remove it.
        var read = await OkAsync(HttpMethod.Get, $"/clients/{clientId}/retention");
        Assert.Equal((7, true, 365), Plan(read.GetProperty("effective").GetProperty("stagedSourceData")));
    }
}
