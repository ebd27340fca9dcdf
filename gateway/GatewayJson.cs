using System.Text.Json;
using System.Text.Json.Serialization;

namespace AnalyticsEngine.Gateway;

/// <summary>
/// One JSON shape for HTTP and SignalR: camelCase names, enums as camelCase strings, times read only with an offset
/// (<see cref="Api.Instants"/>).
/// </summary>
public static class GatewayJson
{
    public static void Configure(JsonSerializerOptions options)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false));
        options.Converters.Add(new Api.InstantJsonConverter());
    }
}
