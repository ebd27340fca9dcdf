using System.Net.Http.Json;

namespace AnalyticsEngine.Integration.Tests;

/// <summary>An order as the tests send it, and the POF/OTD arithmetic written out independently of the engine.</summary>
public sealed record TestOrder(
    string order_id,
    DateTimeOffset ordered_at,
    double order_value,
    DateTimeOffset promised_at,
    DateTimeOffset? delivered_at,
    bool on_time,
    bool in_full,
    bool damage_free,
    bool documentation_complete,
    string status,
    string? carrier)
{
    /// <summary>The start (UTC) of the minute that began <paramref name="minutesAgo"/> minutes before now.</summary>
    public static DateTimeOffset MinuteStart(int minutesAgo)
    {
        var at = DateTimeOffset.UtcNow.AddMinutes(-minutesAgo);
        return new DateTimeOffset(at.Year, at.Month, at.Day, at.Hour, at.Minute, 0, TimeSpan.Zero);
    }

    public static List<TestOrder> Random(int count, DateTimeOffset minute, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(i => new TestOrder(
            $"o-{seed}-{i}",
            minute.AddSeconds(random.Next(0, 60)),
            Math.Round(random.NextDouble() * 1000, 2),
            minute.AddDays(2),
            minute.AddDays(1),
            random.NextDouble() < 0.8,
            random.NextDouble() < 0.85,
            random.NextDouble() < 0.9,
            random.NextDouble() < 0.9,
            "delivered",
            "DHL")).ToList();
    }

    public static double PerfectOrderPercent(IReadOnlyCollection<TestOrder> orders) =>
        100.0 * orders.Count(o => o.on_time && o.in_full && o.damage_free && o.documentation_complete) / orders.Count;

    public static double OnTimePercent(IReadOnlyCollection<TestOrder> orders) =>
        100.0 * orders.Count(o => o.on_time) / orders.Count;
}

public static class TestClients
{
    public static string NewId(string prefix) => $"{prefix}-{Guid.NewGuid().ToString("N")[..10]}";

    public static async Task CreateAsync(HttpClient http, string clientId, string timeZone = "Europe/Berlin", params string[] kpis)
    {
        var response = await http.PostAsJsonAsync("/clients", new
        {
            clientId,
            name = "Test " + clientId,
            timeZone,
            selectedKpis = kpis.Length == 0 ? ["POF", "OTD"] : kpis,
        });
        response.EnsureSuccessStatusCode();
    }

    /// <summary>Ingests <paramref name="orders"/> for the client; a refusal fails the test with its problem body.</summary>
    public static async Task PostOrdersAsync(HttpClient http, string clientId, IEnumerable<TestOrder> orders)
    {
        var response = await http.PostAsJsonAsync($"/ingest/orders?clientId={clientId}", orders);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }
}
