using System.Reflection;
using Microsoft.AspNetCore.Mvc;

namespace AnalyticsEngine.Gateway.Api;

/// <summary>
/// Refuses a query-string parameter an endpoint does not take. Bodies already refuse unknown fields; a misspelt
/// <c>granularty=hour</c> in a query string would otherwise be ignored and answered with the default, a day, which
/// looks like an answer to the question asked.
/// </summary>
internal static class QueryParameters
{
    /// <summary>What every result endpoint reads from the query string itself (<see cref="ResultFormats"/>).</summary>
    private static readonly string[] Always = ["format"];

    /// <summary>
    /// Adds the filter. The names it accepts are its handler's simple parameters less the route's values: those are
    /// bound from the path, so a <c>clientId=other</c> in the query string would be ignored while the answer is about
    /// the path's client.
    /// </summary>
    public static TBuilder RefuseUnknownQueryParameters<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder
    {
        // A convention sees the endpoint's whole route pattern (a group's prefix included) before its filters are built.
        builder.Add(endpoint =>
        {
            var routeValues = ((RouteEndpointBuilder)endpoint).RoutePattern.Parameters.Select(p => p.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
            endpoint.FilterFactories.Add((context, next) => RefuseUnknown(context, next, routeValues));
        });
        return builder;
    }

    private static EndpointFilterDelegate RefuseUnknown(EndpointFilterFactoryContext context, EndpointFilterDelegate next, HashSet<string> routeValues)
    {
        var accepted = context.MethodInfo.GetParameters()
            .Where(IsSimpleValue)
            .Select(p => p.GetCustomAttribute<FromQueryAttribute>()?.Name ?? p.Name!)
            .Where(name => !routeValues.Contains(name))
            .Concat(Always)
            .ToHashSet(StringComparer.OrdinalIgnoreCase);
        var takes = string.Join(", ", accepted.Order(StringComparer.Ordinal));
        return invocation =>
        {
            var unknown = invocation.HttpContext.Request.Query.Keys.Where(k => !accepted.Contains(k)).Order(StringComparer.Ordinal).ToList();
            if (unknown.Count == 0)
            {
                return next(invocation);
            }

            return ValueTask.FromResult<object?>(TypedResults.Problem(
                $"The query string has {(unknown.Count == 1 ? "a parameter" : "parameters")} this endpoint does not take: {string.Join(", ", unknown)}. It takes: {takes}.",
                statusCode: StatusCodes.Status400BadRequest,
                title: "Unknown query parameter",
                extensions: new Dictionary<string, object?>
                {
                    ["errors"] = unknown.ToDictionary(k => k, k => new[] { Reason(k, routeValues, takes) }),
                }));
        };
    }

    private static string Reason(string name, HashSet<string> routeValues, string takes) => routeValues.Contains(name)
        ? $"is given in the path, not the query string; this endpoint's query string takes: {takes}"
        : $"is not a parameter of this endpoint; it takes: {takes}";

    /// <summary>A simple value with no attribute binding it elsewhere (the body, a service, a header): the route's or the query string's.</summary>
    private static bool IsSimpleValue(ParameterInfo parameter)
    {
        if (parameter.GetCustomAttributes().Any(a => a is FromBodyAttribute or FromServicesAttribute or FromHeaderAttribute or FromFormAttribute))
        {
            return false;
        }

        var type = Nullable.GetUnderlyingType(parameter.ParameterType) ?? parameter.ParameterType;
        return type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || type == typeof(DateTimeOffset)
            || type == typeof(DateTime) || type == typeof(Guid);
    }
}
