using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using AnalyticsEngine.Proposals;

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
        options.TypeInfoResolver = (options.TypeInfoResolver ?? new DefaultJsonTypeInfoResolver()).WithAddedModifier(RequireProposalChoices);
    }

    /// <summary>
    /// A proposal's answers are grain contracts read as they are. A choice among values (an enum, true or false) that
    /// the contract gives no default must be in the body: left out, it would read as the first value
    /// (<c>batchConformed</c>, <c>archive: false</c>), a valid answer the caller never gave, and be priced as such.
    /// Other fields left out read as a value the pricing refuses, with its own reason.
    /// </summary>
    private static void RequireProposalChoices(JsonTypeInfo info)
    {
        if (info.Kind != JsonTypeInfoKind.Object || info.Type.Namespace != typeof(ProposalRequest).Namespace)
        {
            return;
        }

        foreach (var property in info.Properties)
        {
            if (property.AssociatedParameter is { HasDefaultValue: false } && (property.PropertyType.IsEnum || property.PropertyType == typeof(bool)))
            {
                property.IsRequired = true;
            }
        }
    }
}
