using Microsoft.AspNetCore.Http.HttpResults;

namespace AnalyticsEngine.Gateway.Api;

/// <summary>ProblemDetails responses with the same shape everywhere.</summary>
internal static class Problems
{
    public static ProblemHttpResult NotFound(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status404NotFound, title: "Not found");

    public static ProblemHttpResult BadRequest(string title, string detail, IDictionary<string, object?>? extensions = null) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status400BadRequest, title: title, extensions: extensions);

    /// <summary>A validation problem from "field: message" lines, grouped by field.</summary>
    public static ValidationProblem Validation(IEnumerable<string> problems) =>
        TypedResults.ValidationProblem(problems
            .Select(p => p.Split(": ", 2))
            .GroupBy(parts => parts.Length == 2 ? parts[0] : "body", parts => parts[^1])
            .ToDictionary(g => g.Key, g => g.ToArray()));
}
