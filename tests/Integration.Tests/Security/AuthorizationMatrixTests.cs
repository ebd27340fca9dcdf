using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AnalyticsEngine.Gateway.Security;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace AnalyticsEngine.Integration.Tests.Security;

/// <summary>
/// Every HTTP endpoint × role × the client its token grants, and every endpoint × a token that is missing,
/// expired or forged: 2xx where the design allows, 403 ProblemDetails for the wrong role or client, 401 without
/// a valid token.
/// </summary>
[Collection(AnalyticsCollection.Name)]
public sealed class AuthorizationMatrixTests(AnalyticsFixture fixture)
{
    /// <summary>The token grants the targeted client.</summary>
    public const string Own = "own";

    /// <summary>The token grants another client than the targeted one.</summary>
    public const string Other = "other";

    /// <summary>The token grants every client (<c>*</c>).</summary>
    public const string AllClients = "all";

    private static readonly string[] RoleOrder = [Roles.Viewer, Roles.Analyst, Roles.Admin];

    public static TheoryData<string, string, string> Matrix()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var endpoint in SecuredEndpoints.All)
        {
            foreach (var role in RoleOrder)
            {
                foreach (var grant in new[] { Own, Other, AllClients })
                {
                    data.Add(endpoint.Name, role, grant);
                }
            }
        }

        return data;
    }

    public static TheoryData<string, string> BadTokens()
    {
        var data = new TheoryData<string, string>();
        foreach (var endpoint in SecuredEndpoints.All)
        {
            foreach (var kind in new[] { "missing", "expired", "wrongly-signed", "wrong-audience", "wrong-issuer", "garbage" })
            {
                data.Add(endpoint.Name, kind);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task An_endpoint_answers_by_role_and_client_grant(string endpointName, string role, string grant)
    {
        var endpoint = SecuredEndpoints.Find(endpointName);
        var clients = await MatrixClients.GetAsync(fixture);
        var fresh = TestClients.NewId("new");
        var (granted, targets) = grant switch
        {
            Own => ($"{clients.Own} {fresh}", new Targets(clients.Own, fresh)),
            Other => ($"{clients.Own} {fresh}", new Targets(clients.Other, TestClients.NewId("new"))),
            _ => (ClientAccess.AllClients, new Targets(clients.Own, fresh)),
        };
        var expected = Expected(endpoint, role, grant);
        if (endpoint.Prepare is { } prepare)
        {
            await prepare(fixture.Http, targets);
        }

        using var http = fixture.CreateClient(fixture.Token(role, granted));
        using var request = endpoint.Build(targets);
        using var response = await http.SendAsync(request);

        var body = await response.Content.ReadAsStringAsync();
        Assert.True(expected == (int)response.StatusCode,
            $"{endpoint.Name} as {role} granted {grant}: expected {expected}, got {(int)response.StatusCode}: {body}");
        if (expected == StatusCodes.Status403Forbidden)
        {
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.False(string.IsNullOrWhiteSpace(JsonDocument.Parse(body).RootElement.GetProperty("detail").GetString()));
        }
    }

    [Theory]
    [MemberData(nameof(BadTokens))]
    public async Task An_endpoint_refuses_a_missing_expired_or_forged_token_with_401(string endpointName, string kind)
    {
        var endpoint = SecuredEndpoints.Find(endpointName);
        var clients = await MatrixClients.GetAsync(fixture);
        var targets = new Targets(clients.Own, TestClients.NewId("new"));
        if (endpoint.Prepare is { } prepare)
        {
            await prepare(fixture.Http, targets);
        }

        using var http = fixture.CreateClient(BadToken(fixture.Auth, kind));
        using var request = endpoint.Build(targets);
        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains(response.Headers.WwwAuthenticate, h => h.Scheme == "Bearer");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Theory]
    [MemberData(nameof(SecuredEndpoints.Names), MemberType = typeof(SecuredEndpoints))]
    public async Task A_valid_token_without_a_known_role_gets_403(string endpointName)
    {
        var endpoint = SecuredEndpoints.Find(endpointName);
        var clients = await MatrixClients.GetAsync(fixture);

        var targets = new Targets(clients.Own, TestClients.NewId("new"));
        if (endpoint.Prepare is { } prepare)
        {
            await prepare(fixture.Http, targets);
        }

        using var http = fixture.CreateClient(fixture.Token("guest", ClientAccess.AllClients));
        using var request = endpoint.Build(targets);
        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task The_client_list_holds_only_the_clients_the_token_grants()
    {
        var clients = await MatrixClients.GetAsync(fixture);

        using var viewer = fixture.CreateClient(fixture.Token(Roles.Viewer, clients.Own));
        var listed = (await viewer.GetFromJsonAsync<JsonElement[]>("/clients"))!.Select(c => c.GetProperty("clientId").GetString()).ToList();
        Assert.Equal([clients.Own], listed);

        var everything = (await fixture.Http.GetFromJsonAsync<JsonElement[]>("/clients"))!.Select(c => c.GetProperty("clientId").GetString()).ToList();
        Assert.Contains(clients.Own, everything);
        Assert.Contains(clients.Other, everything);
    }

    [Fact]
    public async Task A_token_in_the_query_string_is_accepted_only_on_the_hubs()
    {
        var token = fixture.Token(Roles.Viewer, ClientAccess.AllClients);
        using var anonymous = fixture.CreateClient(null);

        using var onApi = await anonymous.GetAsync($"/clients?access_token={token}");
        Assert.Equal(HttpStatusCode.Unauthorized, onApi.StatusCode);

        using var negotiate = await anonymous.PostAsync($"/hubs/kpi/negotiate?negotiateVersion=1&access_token={token}", null);
        Assert.Equal(HttpStatusCode.OK, negotiate.StatusCode);

        using var withoutToken = await anonymous.PostAsync("/hubs/kpi/negotiate?negotiateVersion=1", null);
        Assert.Equal(HttpStatusCode.Unauthorized, withoutToken.StatusCode);
    }

    [Theory]
    [InlineData("/health/live")]
    [InlineData("/health/ready")]
    [InlineData("/metrics")]
    [InlineData("/")]
    [InlineData("/app.js")]
    [InlineData("/openapi/v1.json")]
    [InlineData("/scalar/v1")]
    public async Task Health_metrics_the_page_and_the_api_reference_need_no_token(string path)
    {
        using var anonymous = fixture.CreateClient(null);
        using var response = await anonymous.GetAsync(path);
        Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode}");
    }

    [Fact]
    public void Every_authenticated_route_of_the_gateway_is_in_the_matrix_and_requires_authorization()
    {
        var routes = fixture.Gateway.Services.GetRequiredService<EndpointDataSource>().Endpoints
            .OfType<RouteEndpoint>()
            .Where(e => e.Metadata.GetMetadata<IAllowAnonymous>() is null)
            .Where(e => !(e.RoutePattern.RawText ?? "").StartsWith("/hubs", StringComparison.Ordinal))
            .ToList();

        Assert.All(routes, e => Assert.NotEmpty(e.Metadata.GetOrderedMetadata<IAuthorizeData>()));
        var mapped = routes
            .SelectMany(e => (e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()?.HttpMethods ?? ["*"])
                .Select(method => $"{method} {Normalize(e.RoutePattern.RawText)}"))
            .Order(StringComparer.Ordinal)
            .ToList();
        var listed = SecuredEndpoints.All.Select(e => e.Name).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(listed, mapped);
    }

    internal static string? BadToken(AuthOptions auth, string kind) => kind switch
    {
        "missing" => null,
        "expired" => AnalyticsFixture.Token(auth, Roles.Admin, ClientAccess.AllClients, TimeSpan.FromMinutes(-10)),
        "wrongly-signed" => AnalyticsFixture.Token(With(auth, key: "another-key-that-the-gateway-has-never-seen-0123456789"), Roles.Admin, ClientAccess.AllClients),
        "wrong-audience" => AnalyticsFixture.Token(With(auth, audience: "someone-else"), Roles.Admin, ClientAccess.AllClients),
        "wrong-issuer" => AnalyticsFixture.Token(With(auth, issuer: "https://evil.example"), Roles.Admin, ClientAccess.AllClients),
        "garbage" => "not-a-jwt",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    private static AuthOptions With(AuthOptions auth, string? key = null, string? audience = null, string? issuer = null) => new()
    {
        Issuer = issuer ?? auth.Issuer,
        Audience = audience ?? auth.Audience,
        SigningKey = key ?? auth.SigningKey,
        RoleClaim = auth.RoleClaim,
    };

    private static int Expected(SecuredEndpoint endpoint, string role, string grant)
    {
        if (Array.IndexOf(RoleOrder, role) < Array.IndexOf(RoleOrder, endpoint.MinimumRole))
        {
            return StatusCodes.Status403Forbidden;
        }

        return endpoint.Scope switch
        {
            ClientScope.Client when grant == Other => StatusCodes.Status403Forbidden,
            ClientScope.AllClients when grant != AllClients => StatusCodes.Status403Forbidden,
            _ => endpoint.Authorized,
        };
    }

    private static string Normalize(string? pattern) => pattern is null or "/" ? "/" : "/" + pattern.Trim('/');
}

/// <summary>Two clients the security tests aim at, created once per test run.</summary>
internal static class MatrixClients
{
    private static readonly Lock Gate = new();
    private static Task<(string Own, string Other)>? s_clients;

    public static Task<(string Own, string Other)> GetAsync(AnalyticsFixture fixture)
    {
        lock (Gate)
        {
            return s_clients ??= CreateAsync(fixture);
        }
    }

    private static async Task<(string Own, string Other)> CreateAsync(AnalyticsFixture fixture)
    {
        var own = TestClients.NewId("own");
        var other = TestClients.NewId("other");
        await TestClients.CreateAsync(fixture.Http, own);
        await TestClients.CreateAsync(fixture.Http, other);
        return (own, other);
    }
}
