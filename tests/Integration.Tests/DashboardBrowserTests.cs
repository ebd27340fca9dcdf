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
/// over SignalR, shows an ingested change without a reload, and follows a KPI whose formula changes or that goes.
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
        var clientId = TestClients.NewId("browser");
        await TestClients.CreateAsync(fixture.Http, clientId, "UTC", "OTD");
        await using var session = await DashboardSession.OpenAsync(fixture, clientId);
        Assert.DoesNotContain("token=", session.Page.Url, StringComparison.Ordinal);
        var tile = session.Tile("OTD");
        await session.ShowDaysAsync(tile);
        // Subscribed: the current day's bucket is there, with no value while no order has arrived.
        await Assertions.Expect(tile.Locator(".number")).ToHaveTextAsync("—", Patience);

        // Orders of the last 90 s (each up to a minute after its start), or from midnight when the day is younger:
        // today's bucket either way.
        var now = DateTimeOffset.UtcNow;
        var today = new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero);
        var orders = TestOrder.Random(8, now.AddSeconds(-90) < today ? today : now.AddSeconds(-90), seed: 47);
        (await fixture.Http.PostAsJsonAsync($"/ingest/orders?clientId={clientId}", orders)).EnsureSuccessStatusCode();

        var expected = TestOrder.OnTimePercent(orders).ToString("F1", CultureInfo.InvariantCulture);
        await Assertions.Expect(tile.Locator(".number")).ToHaveTextAsync(expected, Patience);
        Assert.Empty(session.Problems);
    }

    [Fact]
    public async Task A_tile_takes_the_rebuilt_series_of_a_changed_formula_and_says_why_its_kpi_went()
    {
        var clientId = TestClients.NewId("browser");
        await TestClients.CreateAsync(fixture.Http, clientId, "UTC", "OTD");
        var body = new { code = "BIG_SHARE", name = "Share of big orders", formula = "100 * count(orders) filter (where orders.order_value > 500) / count(orders)", unit = "%" };
        (await fixture.Http.PostAsJsonAsync($"/clients/{clientId}/custom-kpis", body)).EnsureSuccessStatusCode();
        var now = DateTimeOffset.UtcNow;
        var today = new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero);
        var orders = TestOrder.Random(8, now.AddSeconds(-90) < today ? today : now.AddSeconds(-90), seed: 48);
        (await fixture.Http.PostAsJsonAsync($"/ingest/orders?clientId={clientId}", orders)).EnsureSuccessStatusCode();
        await using var session = await DashboardSession.OpenAsync(fixture, clientId);
        var tile = session.Tile("BIG_SHARE");
        await session.ShowDaysAsync(tile);
        var share = 100.0 * orders.Count(o => o.order_value > 500) / orders.Count;
        await Assertions.Expect(tile.Locator(".number")).ToHaveTextAsync(share.ToString("F1", CultureInfo.InvariantCulture), Patience);

        // The same orders under the new formula: only a reset replaces the value, whose revision stays the same.
        (await fixture.Http.PutAsJsonAsync($"/clients/{clientId}/custom-kpis/BIG_SHARE", body with { formula = "count(orders)" })).EnsureSuccessStatusCode();
        await Assertions.Expect(tile.Locator(".number")).ToHaveTextAsync("8.0", Patience);

        (await fixture.Http.DeleteAsync($"/clients/{clientId}/custom-kpis/BIG_SHARE")).EnsureSuccessStatusCode();
        await Assertions.Expect(tile.Locator(".tile-error")).ToContainTextAsync($"KPI 'BIG_SHARE' was deleted from client '{clientId}'.", new() { Timeout = 30_000 });
        Assert.Empty(session.Problems);
    }

    /// <summary>
    /// A gateway on a port of its own and a chromium page signed in as a viewer of one client, as a link printed by
    /// scripts/run.sh does; connected and showing the client once open. Console errors are collected.
    /// </summary>
    private sealed class DashboardSession : IAsyncDisposable
    {
        private readonly IAsyncDisposable _gateway;
        private readonly IPlaywright _playwright;
        private readonly IBrowser _browser;

        private DashboardSession(IAsyncDisposable gateway, IPlaywright playwright, IBrowser browser, IPage page)
        {
            (_gateway, _playwright, _browser, Page) = (gateway, playwright, browser, page);
            page.Console += (_, message) => { if (message.Type == "error") Problems.Add(message.Text); };
            page.PageError += (_, error) => Problems.Add(error);
        }

        public IPage Page { get; }

        public List<string> Problems { get; } = [];

        public static async Task<DashboardSession> OpenAsync(AnalyticsFixture fixture, string clientId)
        {
            Assert.True(File.Exists(Chromium), $"{Chromium} is missing: scripts/test.sh installs it (apt-get install chromium)");
            // A port of its own: the development settings' Urls (127.0.0.1:5080) may be taken by scripts/run.sh.
            var gateway = fixture.CreateGateway().WithWebHostBuilder(web => web.UseSetting("urls", "http://127.0.0.1:0"));
            gateway.UseKestrel();
            gateway.StartServer();
            var address = gateway.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

            var playwright = await Playwright.CreateAsync();
            var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = Chromium, Headless = true, Args = ["--no-sandbox"] });
            var session = new DashboardSession(gateway, playwright, browser, await browser.NewPageAsync(new() { Locale = "en-US", TimezoneId = "UTC" }));
            await session.Page.GotoAsync($"{address}/#token={fixture.Token(Roles.Viewer, clientId)}");

            var connection = session.Page.Locator("#connection");
            await Assertions.Expect(connection).ToHaveAttributeAsync("data-state", "connected", new() { Timeout = 30_000 });
            await Assertions.Expect(connection).ToHaveTextAsync("Live");
            await Assertions.Expect(session.Page.Locator(".client-name")).ToHaveTextAsync($"Test {clientId}", Patience);
            return session;
        }

        public ILocator Tile(string kpiCode) =>
            Page.Locator("article.tile", new() { Has = Page.Locator(".code", new() { HasTextString = kpiCode }) });

        /// <summary>
        /// Switches to days, whose current bucket (UTC, the client's zone) holds what is ingested now (a minute could
        /// roll over), and waits for the tile to be subscribed.
        /// </summary>
        public async Task ShowDaysAsync(ILocator tile)
        {
            await Page.Locator("#period label", new() { Has = Page.Locator("input[value=day]") }).ClickAsync();
            await Assertions.Expect(tile).ToHaveAttributeAsync("data-state", "live", new() { Timeout = 30_000 });
        }

        public async ValueTask DisposeAsync()
        {
            await _browser.DisposeAsync();
            _playwright.Dispose();
            await _gateway.DisposeAsync();
        }
    }
}
