using System.Text.Json;
using System.Text.Json.Serialization;

namespace AnalyticsEngine.Gateway;

/// <summary>
/// One JSON shape for HTTP and SignalR: camelCase names, enums as camelCase strings, times read only with an offset
/// (<see cref="Api.Instants"/>). A body may hold only the fields its request has, each once: a misspelt or repeated
/// field would otherwise be dropped or overwritten without a word, and the request would do something else than asked.
/// </summary>
public static class GatewayJson
{
    public static void Configure(JsonSerializerOptions options)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
        options.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        options.AllowDuplicateProperties = false;
        // The web defaults also read "15" as 15; a number is a JSON number, as a string is a string.
        options.NumberHandling = JsonNumberHandling.Strict;
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false));
        options.Converters.Add(new Api.InstantJsonConverter());
    }
}
