using System.Globalization;
using System.Net.Http.Json;
using AnalyticsEngine.Gateway.Security;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace AnalyticsEngine.Integration.Tests;

/// <summary>
/// The live dashboard in a real browser (Debian's chromium, driven by Playwright) against a gateway listening on a real
/// port: signed in by the link's <c>#token=</c>, it lists the token's client with a tile per selected KPI, subscribes
/// over SignalR, and shows an ingested change without a reload.
/// </summary>
[Collection(AnalyticsCollection.Name)]
public sealed class DashboardBrowserTests(AnalyticsFixture fixture)
{
    /// <summary>Where scripts/test.sh installs Debian's chromium; Playwright downloads no browser here.</summary>
    private const string Chromium = "/usr/bin/chromium";

    private static readonly LocatorAssertionsToHaveTextOptions Patience = new() { Timeout = 30_000 };

    [Fact]
    public async Task A_signed_in_dashboard_shows_an_ingested_change_live()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: scripts/test.sh installs it (apt-get install chromium)");
        var clientId = TestClients.NewId("browser");
        await TestClients.CreateAsync(fixture.Http, clientId, "UTC", "OTD");
        // A port of its own: the development settings' Urls (127.0.0.1:5080) may be taken by scripts/run.sh.
        await using var gateway = fixture.CreateGateway().WithWebHostBuilder(web => web.UseSetting("urls", "http://127.0.0.1:0"));
        gateway.UseKestrel();
        gateway.StartServer();
        var address = gateway.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = Chromium, Headless = true, Args = ["--no-sandbox"] });
        var page = await browser.NewPageAsync(new() { Locale = "en-US", TimezoneId = "UTC" });
        var problems = new List<string>();
        page.Console += (_, message) => { if (message.Type == "error") problems.Add(message.Text); };
        page.PageError += (_, error) => problems.Add(error);

        // Signed in as a viewer of this one client, as a link printed by scripts/run.sh does for every client.
        await page.GotoAsync($"{address}/#token={fixture.Token(Roles.Viewer, clientId)}");

        var connection = page.Locator("#connection");
        await Assertions.Expect(connection).ToHaveAttributeAsync("data-state", "connected", new() { Timeout = 30_000 });
        await Assertions.Expect(connection).ToHaveTextAsync("Live");
        await Assertions.Expect(page.Locator(".client-name")).ToHaveTextAsync($"Test {clientId}", Patience);
        var tile = page.Locator("article.tile", new() { Has = page.Locator(".code", new() { HasTextString = "OTD" }) });
        Assert.DoesNotContain("token=", page.Url, StringComparison.Ordinal);

        // Days, whose current bucket (UTC, the client's zone) holds what is ingested now; a minute could roll over.
        await page.Locator("#period label", new() { Has = page.Locator("input[value=day]") }).ClickAsync();
        // Subscribed: the current day's bucket is there, with no value while no order has arrived.
        await Assertions.Expect(tile).ToHaveAttributeAsync("data-state", "live", new() { Timeout = 30_000 });
        await Assertions.Expect(tile.Locator(".number")).ToHaveTextAsync("—", Patience);

        // Orders of the last 90 s (each up to a minute after its start), or from midnight when the day is younger:
        // today's bucket either way.
        var now = DateTimeOffset.UtcNow;
        var today = new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero);
        var orders = TestOrder.Random(8, now.AddSeconds(-90) < today ? today : now.AddSeconds(-90), seed: 47);
        (await fixture.Http.PostAsJsonAsync($"/ingest/orders?clientId={clientId}", orders)).EnsureSuccessStatusCode();

        var expected = TestOrder.OnTimePercent(orders).ToString("F1", CultureInfo.InvariantCulture);
        await Assertions.Expect(tile.Locator(".number")).ToHaveTextAsync(expected, Patience);
        Assert.Empty(problems);
    }
}
