using System.Net;
using System.Text.Json;
using AnalyticsEngine.Gateway.Security;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace AnalyticsEngine.Integration.Tests.Security;

/// <summary>
/// Health and metrics on the management port alone when one is set (a public Ingress exposes the other), and the
/// gateway's readiness: a grain call, not the databases, which the gateway does not use.
/// </summary>
[Collection(AnalyticsCollection.Name)]
public sealed class ManagementPortTests(AnalyticsFixture fixture)
{
    [Theory]
    [InlineData("/health/live")]
    [InlineData("/health/ready")]
    [InlineData("/metrics")]
    public async Task With_a_management_port_health_and_metrics_answer_there_and_not_on_the_public_port(string path)
    {
        using var gateway = fixture.CreateGateway().WithWebHostBuilder(web => web.UseSetting("Management:Port", "8081"));
        using var anonymous = gateway.CreateClient();
        using var admin = AnalyticsFixture.CreateClient(gateway, fixture.Token(Roles.Admin, ClientAccess.AllClients));

        using var management = await anonymous.GetAsync(new Uri($"http://localhost:8081{path}"));
        using var publicAnonymous = await anonymous.GetAsync(new Uri($"http://localhost{path}"));
        using var publicAdmin = await admin.GetAsync(new Uri($"http://localhost{path}"));

        Assert.Equal(HttpStatusCode.OK, management.StatusCode);
        // On the public port the path is no endpoint: unknown to a caller with a token, and like any other path
        // without one, 401.
        Assert.Equal(HttpStatusCode.Unauthorized, publicAnonymous.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, publicAdmin.StatusCode);
    }

    [Fact]
    public async Task The_api_still_answers_on_the_public_port_with_a_management_port_set()
    {
        using var gateway = fixture.CreateGateway().WithWebHostBuilder(web => web.UseSetting("Management:Port", "8081"));
        using var http = AnalyticsFixture.CreateClient(gateway, fixture.Token(Roles.Viewer, ClientAccess.AllClients));

        using var catalog = await http.GetAsync(new Uri("http://localhost/kpis"));

        Assert.Equal(HttpStatusCode.OK, catalog.StatusCode);
    }

    [Fact]
    public async Task The_gateway_is_ready_when_a_grain_call_answers_and_checks_no_database()
    {
        using var response = await fixture.Http.GetAsync("/health/ready");
        var report = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["cluster"], report.GetProperty("checks").EnumerateObject().Select(c => c.Name));
    }
}
