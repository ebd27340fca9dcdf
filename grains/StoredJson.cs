using System.Text.Json;
using System.Text.Json.Serialization;

namespace AnalyticsEngine;

/// <summary>How the engine stores documents as jsonb: camelCase, enums by name (the gateway's JSON shape).</summary>
internal static class StoredJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false) },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}
