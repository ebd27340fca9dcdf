using System.Net;
using AnalyticsEngine.Gateway.Security;
using AnalyticsEngine.Kpi;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.Configuration;

namespace AnalyticsEngine.Integration.Tests.Security;

/// <summary>The KPI hub: connecting needs a valid token; every call checks the client against it.</summary>
[Collection(AnalyticsCollection.Name)]
public sealed class HubAuthorizationTests(AnalyticsFixture fixture)
{
    public static TheoryData<string, string> Matrix()
    {
        var data = new TheoryData<string, string>();
        foreach (var role in new[] { Roles.Viewer, Roles.Analyst, Roles.Admin })
        {
            foreach (var grant in new[] { AuthorizationMatrixTests.Own, AuthorizationMatrixTests.Other, AuthorizationMatrixTests.AllClients })
            {
                data.Add(role, grant);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Subscribe_and_Resume_answer_for_a_granted_client_and_an_error_for_another(string role, string grant)
    {
        var clients = await MatrixClients.GetAsync(fixture);
        var granted = grant == AuthorizationMatrixTests.AllClients ? ClientAccess.AllClients : clients.Own;
        var target = grant == AuthorizationMatrixTests.Other ? clients.Other : clients.Own;

        await using var hub = await fixture.ConnectHubAsync(fixture.Token(role, granted));

        if (grant == AuthorizationMatrixTests.Other)
        {
            var error = await Assert.ThrowsAsync<HubException>(() => hub.InvokeAsync<KpiSnapshot>("Subscribe", target, "POF", "minute"));
            Assert.Contains($"does not grant access to client '{target}'", error.Message);
            error = await Assert.ThrowsAsync<HubException>(() => hub.InvokeAsync("Unsubscribe", target, "POF", "minute"));
            Assert.Contains("does not grant", error.Message);
            error = await Assert.ThrowsAsync<HubException>(() => hub.InvokeAsync<KpiResume>("Resume", target, "POF", "minute", Array.Empty<KpiBucketVersion>()));
            Assert.Contains("does not grant", error.Message);
        }
        else
        {
            var snapshot = await hub.InvokeAsync<KpiSnapshot>("Subscribe", target, "POF", "minute");
            Assert.Equal("POF", snapshot.KpiCode);
            await hub.InvokeAsync("Unsubscribe", target, "POF", "minute");
            var resumed = await hub.InvokeAsync<KpiResume>("Resume", target, "POF", "minute", snapshot.Recent.Select(KpiBucketVersion.Of).ToArray());
            Assert.Equal(target, resumed.ClientId);
            await hub.InvokeAsync("Unsubscribe", target, "POF", "minute");
        }
    }

    /// <summary>The hub methods the matrix above calls; a new hub method fails this until the matrix covers it.</summary>
    [Fact]
    public void Every_hub_method_is_in_the_matrix()
    {
        var methods = typeof(AnalyticsEngine.Gateway.Streaming.KpiHub)
            .GetMethods(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.DeclaredOnly)
            .Where(m => !m.IsVirtual && !m.IsSpecialName)
            .Select(m => m.Name)
            .Order(StringComparer.Ordinal);
        Assert.Equal(["Resume", "Subscribe", "Unsubscribe"], methods);
    }

    [Fact]
    public async Task A_token_for_one_client_receives_no_changes_of_another()
    {
        var clients = await MatrixClients.GetAsync(fixture);
        await using var hub = await fixture.ConnectHubAsync(fixture.Token(Roles.Viewer, clients.Own));
        var received = new List<KpiValue>();
        hub.On<KpiValue[]>("kpiChanged", values => { lock (received) { received.AddRange(values); } });

        await Assert.ThrowsAsync<HubException>(() => hub.InvokeAsync<KpiSnapshot>("Subscribe", clients.Other, "POF", "minute"));
        var snapshot = await hub.InvokeAsync<KpiSnapshot>("Subscribe", clients.Own, "POF", "minute");
        Assert.Equal(clients.Own, snapshot.ClientId);

        lock (received)
        {
            Assert.DoesNotContain(received, v => v.ClientId != clients.Own);
        }
    }

    [Theory]
    [InlineData("'; DROP TABLE clients; --")]
    [InlineData("a\0b")]
    [InlineData("\u202Eevil")]
    public async Task Subscribe_refuses_a_malformed_client_id(string clientId)
    {
        await using var hub = await fixture.ConnectHubAsync();
        var error = await Assert.ThrowsAsync<HubException>(() => hub.InvokeAsync<KpiSnapshot>("Subscribe", clientId, "POF", "minute"));
        Assert.Contains("clientId must be", error.Message);
    }

    [Fact]
    public async Task Hub_calls_past_the_callers_burst_are_refused_with_a_retry_hint()
    {
        var clients = await MatrixClients.GetAsync(fixture);
        await using var gateway = fixture.Gateway.WithWebHostBuilder(web => web.ConfigureAppConfiguration((_, config) =>
            config.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["RateLimits:PermitsPerSecond"] = "1",
                ["RateLimits:Burst"] = "3",
            })));
        await using var hub = await AnalyticsFixture.ConnectHubAsync(gateway, fixture.Token(Roles.Viewer, clients.Own, subject: "busy-dashboard"));

        HubException? refused = null;
        for (var i = 0; i < 10 && refused is null; i++)
        {
            try
            {
                await hub.InvokeAsync<KpiSnapshot>("Subscribe", clients.Own, "POF", "minute");
            }
            catch (HubException ex)
            {
                refused = ex;
            }
        }

        Assert.NotNull(refused);
        Assert.Contains("Too many calls; retry after", refused.Message);
    }

    [Theory]
    [InlineData("missing")]
    [InlineData("expired")]
    [InlineData("wrongly-signed")]
    [InlineData("wrong-audience")]
    [InlineData("garbage")]
    public async Task Connecting_without_a_valid_token_is_refused_with_401(string kind)
    {
        var token = AuthorizationMatrixTests.BadToken(fixture.Auth, kind);
        var error = await Assert.ThrowsAsync<HttpRequestException>(() => fixture.ConnectHubAsync(token));
        Assert.Equal(HttpStatusCode.Unauthorized, error.StatusCode);
    }
}
