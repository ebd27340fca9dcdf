using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace AnalyticsEngine.Integration.Tests;

/// <summary>
/// An admin reads a client's configuration, changes it and puts it back; a change made from an older read is refused
/// rather than undoing a newer one, and nothing refused is stored.
/// </summary>
[Collection(AnalyticsCollection.Name)]
public sealed class ClientVersionTests(AnalyticsFixture fixture)
{
    [Fact]
    public async Task The_document_get_returns_is_put_back_changed_and_its_etag_moves_with_the_version()
    {
        var clientId = await ClientWithCustomKpiAsync("cver");
        var (document, etag) = await ReadAsync(clientId);
        Assert.Equal($"\"{document["version"]!.GetValue<long>()}\"", etag.Tag);

        document["name"] = "Renamed " + clientId;
        document["selectedKpis"] = new JsonArray("OTD", "CK");
        using var response = await PutAsync(clientId, document, etag.Tag);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var stored = await response.Content.ReadFromJsonAsync<JsonObject>();
        var version = stored!["version"]!.GetValue<long>();
        Assert.Equal(document["version"]!.GetValue<long>() + 1, version);
        Assert.Equal($"\"{version}\"", response.Headers.ETag!.Tag);
        var (after, _) = await ReadAsync(clientId);
        Assert.Equal("Renamed " + clientId, after["name"]!.GetValue<string>());
        Assert.Equal(["OTD", "CK"], after["selectedKpis"]!.AsArray().Select(c => c!.GetValue<string>()));
        Assert.Equal("count(orders)", after["customKpis"]![0]!["formula"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_change_made_from_an_older_version_is_refused_and_the_newer_one_stays()
    {
        var clientId = await ClientWithCustomKpiAsync("cold");
        var (document, etag) = await ReadAsync(clientId);
        var first = document.DeepClone().AsObject();
        first["name"] = "First " + clientId;
        (await PutAsync(clientId, first)).EnsureSuccessStatusCode();

        // The same read, by version in the body: 409, naming the version the client is at.
        var second = document.DeepClone().AsObject();
        second["name"] = "Second " + clientId;
        using var conflict = await PutAsync(clientId, second);
        Assert.Equal(HttpStatusCode.Conflict, conflict.StatusCode);
        var problem = await conflict.Content.ReadFromJsonAsync<JsonElement>();
        var current = document["version"]!.GetValue<long>() + 1;
        Assert.Equal(current, problem.GetProperty("currentVersion").GetInt64());
        Assert.True(problem.GetProperty("errors").TryGetProperty("version", out _), problem.GetRawText());

        // And by If-Match, without a version in the body: 412.
        second.Remove("version");
        using var stale = await PutAsync(clientId, second, etag.Tag);
        Assert.Equal(HttpStatusCode.PreconditionFailed, stale.StatusCode);
        Assert.Equal(current, (await stale.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("currentVersion").GetInt64());

        var (after, afterTag) = await ReadAsync(clientId);
        Assert.Equal("First " + clientId, after["name"]!.GetValue<string>());
        Assert.Equal($"\"{current}\"", afterTag.Tag);
    }

    [Fact]
    public async Task Custom_kpis_change_only_through_their_own_endpoint_and_a_malformed_if_match_is_refused()
    {
        var clientId = await ClientWithCustomKpiAsync("cck");
        var (document, _) = await ReadAsync(clientId);
        var changed = document.DeepClone().AsObject();
        changed["customKpis"]![0]!["formula"] = "count(orders) * 2";

        using var refused = await PutAsync(clientId, changed);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.True((await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("customKpis", out _));

        using var request = new HttpRequestMessage(HttpMethod.Put, $"/clients/{clientId}") { Content = JsonContent.Create(new { name = "Unquoted" }) };
        request.Headers.TryAddWithoutValidation("If-Match", document["version"]!.GetValue<long>().ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var malformed = await fixture.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
        Assert.True((await malformed.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("If-Match", out _));

        var (after, _) = await ReadAsync(clientId);
        Assert.Equal(document.ToJsonString(), after.ToJsonString());

        // Any version: "*" asks only that the client exists.
        using var anyVersion = await PutAsync(clientId, new JsonObject { ["name"] = "Any " + clientId }, "*");
        Assert.Equal(HttpStatusCode.OK, anyVersion.StatusCode);
    }

    [Fact]
    public async Task Of_simultaneous_creations_of_one_client_exactly_one_is_stored()
    {
        var clientId = TestClients.NewId("cdup");
        var responses = await Task.WhenAll(Enumerable.Range(0, 6).Select(i => fixture.Http.PostAsJsonAsync("/clients", new
        {
            clientId,
            name = $"Creation {i}",
            timeZone = "UTC",
            selectedKpis = new[] { "POF" },
        })));

        Assert.Single(responses, r => r.StatusCode == HttpStatusCode.Created);
        Assert.All(responses.Where(r => r.StatusCode != HttpStatusCode.Created), r => Assert.Equal(HttpStatusCode.Conflict, r.StatusCode));
        var created = await responses.Single(r => r.StatusCode == HttpStatusCode.Created).Content.ReadFromJsonAsync<JsonObject>();
        var (stored, _) = await ReadAsync(clientId);
        Assert.Equal(created!["name"]!.GetValue<string>(), stored["name"]!.GetValue<string>());
        Assert.Equal(1, stored["version"]!.GetValue<long>());
    }

    [Fact]
    public async Task A_put_naming_some_fields_keeps_the_others_custom_kpis_included()
    {
        var clientId = await ClientWithCustomKpiAsync("cpart");
        var (before, _) = await ReadAsync(clientId);

        (await fixture.Http.PutAsJsonAsync($"/clients/{clientId}", new { timeZone = "Asia/Tokyo" })).EnsureSuccessStatusCode();

        var (after, _) = await ReadAsync(clientId);
        Assert.Equal("Asia/Tokyo", after["timeZone"]!.GetValue<string>());
        Assert.Equal(before["version"]!.GetValue<long>() + 1, after["version"]!.GetValue<long>());
        foreach (var kept in new[] { "name", "selectedKpis", "customKpis", "fieldMappings" })
        {
            Assert.Equal(before[kept]!.ToJsonString(), after[kept]!.ToJsonString());
        }
    }

    private async Task<string> ClientWithCustomKpiAsync(string prefix)
    {
        var clientId = TestClients.NewId(prefix);
        await TestClients.CreateAsync(fixture.Http, clientId);
        (await fixture.Http.PostAsJsonAsync($"/clients/{clientId}/custom-kpis", new { code = "CK", name = "Count", formula = "count(orders)" })).EnsureSuccessStatusCode();
        return clientId;
    }

    private async Task<(JsonObject Document, EntityTagHeaderValue ETag)> ReadAsync(string clientId)
    {
        using var response = await fixture.Http.GetAsync($"/clients/{clientId}");
        response.EnsureSuccessStatusCode();
        return ((await response.Content.ReadFromJsonAsync<JsonObject>())!, response.Headers.ETag!);
    }

    private Task<HttpResponseMessage> PutAsync(string clientId, JsonObject document, string? ifMatch = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Put, $"/clients/{clientId}") { Content = JsonContent.Create(document) };
        if (ifMatch is not null)
        {
            request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        }

        return fixture.Http.SendAsync(request);
    }
}
