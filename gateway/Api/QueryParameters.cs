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

    /// <summary>An endpoint filter factory: the names it accepts are its handler's parameters bound from the query string.</summary>
    public static EndpointFilterDelegate RefuseUnknown(EndpointFilterFactoryContext context, EndpointFilterDelegate next)
    {
        var accepted = context.MethodInfo.GetParameters()
            .Where(IsFromQueryOrRoute)
            .Select(p => p.GetCustomAttribute<FromQueryAttribute>()?.Name ?? p.Name!)
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
                    ["errors"] = unknown.ToDictionary(k => k, _ => new[] { $"is not a parameter of this endpoint; it takes: {takes}" }),
                }));
        };
    }

    /// <summary>A simple value with no attribute binding it elsewhere (the body, a service, a header).</summary>
    private static bool IsFromQueryOrRoute(ParameterInfo parameter)
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
