using System.Text.Json;

namespace AnalyticsEngine.Demo;

/// <summary>
/// Makes plausible SCOR orders: most arrive on time and in full, some are late, short, damaged or
/// missing paperwork, so POF and OTD move visibly on a dashboard.
/// </summary>
public sealed class DemoOrders(int seed)
{
    private static readonly string[] Carriers = ["DHL", "UPS", "FedEx", "Maersk", "DB Schenker"];
    private readonly Random _random = new(seed);
    private long _next;

    /// <summary>A JSON array of <paramref name="count"/> orders placed at the given times.</summary>
    public byte[] CreateBatch(IReadOnlyList<DateTimeOffset> orderedAt, string idPrefix)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            foreach (var at in orderedAt)
            {
                WriteOrder(json, at, $"{idPrefix}-{Interlocked.Increment(ref _next)}");
            }

            json.WriteEndArray();
        }

        return buffer.ToArray();
    }

    private void WriteOrder(Utf8JsonWriter json, DateTimeOffset orderedAt, string orderId)
    {
        var promised = orderedAt.AddHours(24 + _random.Next(0, 48));
        var onTime = _random.NextDouble() < 0.88;
        var delivered = onTime ? promised.AddHours(-_random.Next(0, 12)) : promised.AddHours(_random.Next(1, 36));
        json.WriteStartObject();
        json.WriteString("order_id", orderId);
        json.WriteString("ordered_at", orderedAt);
        json.WriteNumber("order_value", Math.Round(50 + (_random.NextDouble() * 4950), 2));
        json.WriteString("promised_at", promised);
        json.WriteString("delivered_at", delivered);
        json.WriteBoolean("on_time", onTime);
        json.WriteBoolean("in_full", _random.NextDouble() < 0.93);
        json.WriteBoolean("damage_free", _random.NextDouble() < 0.97);
        json.WriteBoolean("documentation_complete", _random.NextDouble() < 0.95);
        json.WriteString("status", "delivered");
        json.WriteString("carrier", Carriers[_random.Next(Carriers.Length)]);
        json.WriteEndObject();
    }
}
