using System.Net.Http.Json;
using AnalyticsEngine.Gateway.Security;

namespace AnalyticsEngine.Integration.Tests.Security;

/// <summary>Which client ids an endpoint's authorization depends on.</summary>
public enum ClientScope
{
    /// <summary>Not about one client (the catalog, the caller's own client list).</summary>
    None,

    /// <summary>Names one client in its route, query or body; the token must grant it.</summary>
    Client,

    /// <summary>Affects several clients; the token must grant all (<c>*</c>).</summary>
    AllClients,
}

/// <summary>The clients a request is aimed at: an existing one, a new id for endpoints that create one, and a custom KPI code.</summary>
public sealed record Targets(string Client, string NewClient)
{
    /// <summary>A custom KPI code of this request alone.</summary>
    public string KpiCode { get; } = "SEC_" + Guid.NewGuid().ToString("N")[..12].ToUpperInvariant();

    /// <summary>The batch job a <see cref="SecuredEndpoint.Prepare"/> scheduled for this request, if any.</summary>
    public string? JobId { get; set; }

    /// <summary>The archived segment a <see cref="SecuredEndpoint.Prepare"/> wrote for this request, if any.</summary>
    public long? SegmentId { get; set; }
}

/// <summary>One HTTP endpoint of the gateway as the authorization matrix exercises it.</summary>
/// <param name="Method">HTTP method.</param>
/// <param name="Pattern">Its route pattern, as the gateway maps it.</param>
/// <param name="MinimumRole">The weakest role that may call it.</param>
/// <param name="Scope">Which client ids it is about.</param>
/// <param name="Authorized">The status an authorized, well-formed call answers.</param>
/// <param name="Build">An authorized, well-formed call aimed at the given clients.</param>
/// <param name="Prepare">What must exist before the call (done as an admin of every client), if anything.</param>
public sealed record SecuredEndpoint(
    string Method, string Pattern, string MinimumRole, ClientScope Scope, int Authorized, Func<Targets, HttpRequestMessage> Build,
    Func<HttpClient, Targets, Task>? Prepare = null)
{
    public string Name => $"{Method} {Pattern}";

    public override string ToString() => Name;
}

/// <summary>
/// Every authenticated HTTP endpoint of the gateway. <see cref="AuthorizationMatrixTests"/> checks that this list and
/// the gateway's routes agree, so an endpoint added without a line here fails the tests until its policy is stated.
/// </summary>
public static class SecuredEndpoints
{
    public static readonly IReadOnlyList<SecuredEndpoint> All =
    [
        Get("/kpis", Roles.Viewer, ClientScope.None, _ => "/kpis"),
        Get("/kpis/{code}", Roles.Viewer, ClientScope.None, _ => "/kpis/POF"),
        Get("/kpis/module/{code}", Roles.Viewer, ClientScope.None, _ => "/kpis/module/SCOR_DELIVER"),
        Get("/object-models", Roles.Viewer, ClientScope.None, _ => "/object-models"),
        Get("/object-models/{code}", Roles.Viewer, ClientScope.None, _ => "/object-models/orders"),
        Get("/modules", Roles.Viewer, ClientScope.None, _ => "/modules"),
        Get("/value-chains", Roles.Viewer, ClientScope.None, _ => "/value-chains"),
        Get("/clients", Roles.Viewer, ClientScope.None, _ => "/clients"),
        Get("/clients/{clientId}", Roles.Viewer, ClientScope.Client, t => $"/clients/{t.Client}"),
        Get("/clients/{clientId}/rollups", Roles.Viewer, ClientScope.Client, t => $"/clients/{t.Client}/rollups"),
        new("POST", "/clients", Roles.Admin, ClientScope.Client, 201, t => Json(HttpMethod.Post, "/clients", new
        {
            clientId = t.NewClient,
            name = "Created " + t.NewClient,
            timeZone = "Europe/Berlin",
            selectedKpis = new[] { "POF", "OTD" },
        })),
        new("PUT", "/clients/{clientId}", Roles.Admin, ClientScope.Client, 200, t => Json(HttpMethod.Put, $"/clients/{t.Client}", new
        {
            name = "Test " + t.Client,
            timeZone = "Europe/Berlin",
            selectedKpis = new[] { "POF", "OTD" },
        })),
        new("POST", "/ingest/{objectModel}", Roles.Analyst, ClientScope.Client, 200, t => Json(HttpMethod.Post,
            $"/ingest/orders?clientId={t.Client}", TestOrder.Random(3, DateTimeOffset.UtcNow.AddMinutes(-30), Random.Shared.Next()))),
        Get("/clients/{clientId}/kpis/{kpiCode}", Roles.Viewer, ClientScope.Client, t => $"/clients/{t.Client}/kpis/POF?granularity=hour&recent=5"),
        Get("/clients/{clientId}/kpis/{kpiCode}/window", Roles.Viewer, ClientScope.Client, t => $"/clients/{t.Client}/kpis/OTD/window?kind=lastHours&count=24"),
        // An invalid setting: authorization is decided before the handler refuses it, and no feed starts.
        new("POST", "/demo/feed", Roles.Admin, ClientScope.AllClients, 400, _ => Json(HttpMethod.Post, "/demo/feed", new { clients = 0, ordersPerSecond = 0 })),
        new("POST", "/analysis/required-objects", Roles.Viewer, ClientScope.Client, 200, t => Json(HttpMethod.Post, "/analysis/required-objects", new
        {
            clientId = t.Client, kpiCodes = new[] { "POF", "MSP_PROFIT_MARGIN" },
        })),
        new("POST", "/formulas/check", Roles.Analyst, ClientScope.None, 200, _ => Json(HttpMethod.Post, "/formulas/check", new { formula = "count(orders)" })),
        Get("/clients/{clientId}/custom-kpis", Roles.Viewer, ClientScope.Client, t => $"/clients/{t.Client}/custom-kpis"),
        new("POST", "/clients/{clientId}/custom-kpis", Roles.Analyst, ClientScope.Client, 201,
            t => Json(HttpMethod.Post, $"/clients/{t.Client}/custom-kpis", CustomKpi(t.KpiCode))),
        new("PUT", "/clients/{clientId}/custom-kpis/{kpiCode}", Roles.Analyst, ClientScope.Client, 200,
            t => Json(HttpMethod.Put, $"/clients/{t.Client}/custom-kpis/{t.KpiCode}", CustomKpi(t.KpiCode)), CreateCustomKpiAsync),
        new("DELETE", "/clients/{clientId}/custom-kpis/{kpiCode}", Roles.Analyst, ClientScope.Client, 204,
            t => new HttpRequestMessage(HttpMethod.Delete, $"/clients/{t.Client}/custom-kpis/{t.KpiCode}"), CreateCustomKpiAsync),
        new("DELETE", "/demo/feed", Roles.Admin, ClientScope.AllClients, 200, _ => new HttpRequestMessage(HttpMethod.Delete, "/demo/feed")),
        Get("/demo/feed", Roles.Admin, ClientScope.AllClients, _ => "/demo/feed"),
        new("POST", "/calculate", Roles.Analyst, ClientScope.Client, 200, t => Json(HttpMethod.Post, "/calculate", new
        {
            clientId = t.Client, kpiCode = "POF", from = DateTimeOffset.UtcNow.AddDays(-1), to = DateTimeOffset.UtcNow, granularity = "hour",
        })),
        new("POST", "/calculate/batch", Roles.Analyst, ClientScope.Client, 200, t => Json(HttpMethod.Post, "/calculate/batch", new
        {
            queries = new[] { new { clientId = t.Client, kpiCode = "OTD", from = DateTimeOffset.UtcNow.AddDays(-1), to = DateTimeOffset.UtcNow, granularity = "day" } },
        })),
        new("POST", "/calculate/dashboard", Roles.Analyst, ClientScope.Client, 200, t => Json(HttpMethod.Post, "/calculate/dashboard", new
        {
            clientId = t.Client, from = DateTimeOffset.UtcNow.AddDays(-1), to = DateTimeOffset.UtcNow, granularity = "day",
        })),
        new("POST", "/batch/schedule", Roles.Analyst, ClientScope.Client, 201, t => Json(HttpMethod.Post, "/batch/schedule", BatchJob(t.Client))),
        Get("/batch/jobs", Roles.Viewer, ClientScope.None, _ => "/batch/jobs"),
        Get("/audit", Roles.Admin, ClientScope.Client, t => $"/audit?clientId={t.Client}&limit=1"),
        Get("/clients/{clientId}/reviews", Roles.Viewer, ClientScope.Client, t =>
            $"/clients/{t.Client}/reviews?from={Uri.EscapeDataString(DateTimeOffset.UtcNow.AddDays(-2).ToString("O"))}&to={Uri.EscapeDataString(DateTimeOffset.UtcNow.ToString("O"))}&granularity=day"),
        new("POST", "/clients/{clientId}/reviews", Roles.Admin, ClientScope.Client, 200, t => Json(HttpMethod.Post, $"/clients/{t.Client}/reviews", new
        {
            kpiCode = "POF", granularity = "hour", bucketStart = new DateTimeOffset(2026, 11, 2, 10, 0, 0, TimeSpan.Zero), decision = "approved",
        })),
        Get("/batch/jobs/{jobId}", Roles.Viewer, ClientScope.Client, t => $"/batch/jobs/{t.JobId}", ScheduleJobAsync),
        new("DELETE", "/batch/jobs/{jobId}", Roles.Analyst, ClientScope.Client, 204,
            t => new HttpRequestMessage(HttpMethod.Delete, $"/batch/jobs/{t.JobId}"), ScheduleJobAsync),
        new("POST", "/batch/jobs/{jobId}/run", Roles.Analyst, ClientScope.Client, 202,
            t => new HttpRequestMessage(HttpMethod.Post, $"/batch/jobs/{t.JobId}/run"), ScheduleJobAsync),
        Get("/batch/jobs/{jobId}/runs", Roles.Viewer, ClientScope.Client, t => $"/batch/jobs/{t.JobId}/runs", ScheduleJobAsync),
        Get("/batch/jobs/{jobId}/runs/{runId}", Roles.Viewer, ClientScope.Client, t => $"/batch/jobs/{t.JobId}/runs/1", ScheduleAndRunJobAsync),
        Get("/clients/{clientId}/kpis/{kpiCode}/history", Roles.Viewer, ClientScope.Client, t =>
            $"/clients/{t.Client}/kpis/POF/history?from={Uri.EscapeDataString(DateTimeOffset.UtcNow.AddDays(-1).ToString("O"))}&to={Uri.EscapeDataString(DateTimeOffset.UtcNow.ToString("O"))}&granularity=hour"),
        new("POST", "/demo/generate", Roles.Admin, ClientScope.Client, 200, t => Json(HttpMethod.Post, "/demo/generate", new
        {
            clientId = t.Client,
            orders = 5,
            from = DateTimeOffset.UtcNow.AddHours(-2),
            to = DateTimeOffset.UtcNow.AddHours(-1),
        })),
        // The matrix clients select POF and OTD, which read orders.
        new("POST", "/proposals", Roles.Admin, ClientScope.Client, 200, t => Json(HttpMethod.Post, "/proposals", new
        {
            clientId = t.Client,
            licenseTermYears = 1,
            dataSources = new[] { new { objectModel = "orders", integration = "batchConformed" } },
            infrastructure = new { dailyIngestGb = 1, concurrentUsers = 10 },
        })),
        new("POST", "/proposals/questionnaire", Roles.Admin, ClientScope.Client, 200,
            t => Json(HttpMethod.Post, "/proposals/questionnaire", new { clientId = t.Client })),
        Get("/clients/{clientId}/retention", Roles.Viewer, ClientScope.Client, t => $"/clients/{t.Client}/retention", SetRetentionAsync),
        new("PUT", "/clients/{clientId}/retention", Roles.Admin, ClientScope.Client, 200,
            t => Json(HttpMethod.Put, $"/clients/{t.Client}/retention", Retention)),
        new("DELETE", "/clients/{clientId}/retention", Roles.Admin, ClientScope.Client, 204,
            t => new HttpRequestMessage(HttpMethod.Delete, $"/clients/{t.Client}/retention"), SetRetentionAsync),
        Get("/clients/{clientId}/archive", Roles.Viewer, ClientScope.Client, t => $"/clients/{t.Client}/archive"),
        new("GET", "/clients/{clientId}/archive/{segmentId:long}", Roles.Analyst, ClientScope.Client, 200,
            t => new HttpRequestMessage(HttpMethod.Get, $"/clients/{t.Client}/archive/{t.SegmentId}"), ArchiveAnOrderAsync),
        new("POST", "/clients/{clientId}/archive/run", Roles.Admin, ClientScope.Client, 200,
            t => new HttpRequestMessage(HttpMethod.Post, $"/clients/{t.Client}/archive/run"), SetRetentionAsync),
    ];

    // A year active: a run over the matrix clients' recent orders takes nothing out.
    private static readonly object Retention = new
    {
        stagedSourceData = new { activePeriod = 1, activeUnit = "years", archive = true, archiveUnit = "indefinite" },
        analyticsData = new { activePeriod = 1, activeUnit = "years", archive = false },
    };

    public static SecuredEndpoint Find(string name) => All.Single(e => e.Name == name);

    public static TheoryData<string> Names()
    {
        var names = new TheoryData<string>();
        foreach (var endpoint in All)
        {
            names.Add(endpoint.Name);
        }

        return names;
    }

    private static object CustomKpi(string code) => new { code, name = "Orders " + code, formula = "count(orders)", unit = "orders" };

    private static async Task CreateCustomKpiAsync(HttpClient admin, Targets targets)
    {
        using var response = await admin.PostAsJsonAsync($"/clients/{targets.Client}/custom-kpis", CustomKpi(targets.KpiCode));
        response.EnsureSuccessStatusCode();
    }

    private static object BatchJob(string clientId) => new
    {
        clientId, kpiCodes = new[] { "POF" }, schedule = new { frequency = "daily", time = "02:00" },
    };

    private static async Task ScheduleJobAsync(HttpClient admin, Targets targets)
    {
        using var response = await admin.PostAsJsonAsync("/batch/schedule", BatchJob(targets.Client));
        response.EnsureSuccessStatusCode();
        targets.JobId = (await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("jobId").GetString();
    }

    private static async Task SetRetentionAsync(HttpClient admin, Targets targets)
    {
        using var response = await admin.PutAsJsonAsync($"/clients/{targets.Client}/retention", Retention);
        response.EnsureSuccessStatusCode();
    }

    /// <summary>An order of 20 days ago, archived under a week's policy: the client's newest segment.</summary>
    private static async Task ArchiveAnOrderAsync(HttpClient admin, Targets targets)
    {
        await TestClients.PostOrdersAsync(admin, targets.Client, TestOrder.Random(1, TestOrder.MinuteStart(20 * 24 * 60), 231));
        var week = new
        {
            stagedSourceData = new { activePeriod = 7, activeUnit = "days", archive = true, archiveUnit = "indefinite" },
            analyticsData = new { activePeriod = 1, activeUnit = "years", archive = false },
        };
        (await admin.PutAsJsonAsync($"/clients/{targets.Client}/retention", week)).EnsureSuccessStatusCode();
        (await admin.PostAsync($"/clients/{targets.Client}/archive/run", null)).EnsureSuccessStatusCode();
        var listing = await admin.GetFromJsonAsync<System.Text.Json.JsonElement>($"/clients/{targets.Client}/archive");
        targets.SegmentId = listing.GetProperty("segments").EnumerateArray().Last().GetProperty("segmentId").GetInt64();
    }

    private static async Task ScheduleAndRunJobAsync(HttpClient admin, Targets targets)
    {
        await ScheduleJobAsync(admin, targets);
        using var response = await admin.PostAsync($"/batch/jobs/{targets.JobId}/run", null);
        response.EnsureSuccessStatusCode();
    }

    private static SecuredEndpoint Get(string pattern, string role, ClientScope scope, Func<Targets, string> url, Func<HttpClient, Targets, Task>? prepare = null) =>
        new("GET", pattern, role, scope, 200, t => new HttpRequestMessage(HttpMethod.Get, url(t)), prepare);

    private static HttpRequestMessage Json<T>(HttpMethod method, string url, T body) =>
        new(method, url) { Content = JsonContent.Create(body) };
}
