using System.Text.Json;
using System.Text.Json.Serialization;

namespace AnalyticsEngine.Gateway;

/// <summary>One JSON shape for HTTP and SignalR: camelCase names, enums as camelCase strings.</summary>
public static class GatewayJson
{
    public static void Configure(JsonSerializerOptions options)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false));
    }
}
