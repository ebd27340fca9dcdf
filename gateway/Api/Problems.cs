using Microsoft.AspNetCore.Http.HttpResults;

namespace AnalyticsEngine.Gateway.Api;

/// <summary>ProblemDetails responses with the same shape everywhere.</summary>
internal static class Problems
{
    public static ProblemHttpResult NotFound(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status404NotFound, title: "Not found");

    public static ProblemHttpResult BadRequest(string title, string detail, IDictionary<string, object?>? extensions = null) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status400BadRequest, title: title, extensions: extensions);

    /// <summary>A 400 whose <c>errors</c> names the one field or parameter at fault, with the detail as its reason.</summary>
    public static ProblemHttpResult BadRequestAt(string title, string field, string detail) => BadRequest(title, detail, ErrorAt(field, detail));

    /// <summary>The <c>errors</c> extension naming the one field at fault, as a validation problem names its fields.</summary>
    public static Dictionary<string, object?> ErrorAt(string field, string reason) =>
        new() { ["errors"] = new Dictionary<string, string[]> { [field] = [reason] } };

    /// <summary>
    /// A problem's extensions for the item at <paramref name="index"/> of a list in the body: its index, and the fields
    /// of its <c>errors</c> by their path from the body (<c>queries[1].granularity</c>).
    /// </summary>
    public static Dictionary<string, object?> UnderItem(IDictionary<string, object?> extensions, string path, int index)
    {
        var moved = new Dictionary<string, object?>(extensions) { ["index"] = index };
        if (extensions.TryGetValue("errors", out var value) && value is IDictionary<string, string[]> errors)
        {
            moved["errors"] = errors.ToDictionary(e => $"{path}.{e.Key}", e => e.Value);
        }

        return moved;
    }

    /// <summary>A validation problem from "field: message" lines, grouped by field.</summary>
    public static ValidationProblem Validation(IEnumerable<string> problems) =>
        TypedResults.ValidationProblem(problems
            .Select(p => p.Split(": ", 2))
            .GroupBy(parts => parts.Length == 2 ? parts[0] : "body", parts => parts[^1])
            .ToDictionary(g => g.Key, g => g.ToArray()));
}

/// <summary>
/// Text the edge refuses: control characters other than tab and line breaks. PostgreSQL cannot store NUL in text
/// or jsonb, and no name, code, formula or field name needs the others.
/// </summary>
internal static class InputText
{
    public static bool HasControlCharacters(string? value) =>
        value is not null && value.Any(c => char.IsControl(c) && c is not ('\t' or '\r' or '\n'));

    /// <summary>"field: must not contain control characters" for each field that has them.</summary>
    public static List<string> Problems(params (string Field, string? Value)[] fields) =>
        [.. fields.Where(f => HasControlCharacters(f.Value)).Select(f => $"{f.Field}: must not contain control characters").Distinct()];
}

/// <summary>
/// Refuses a query string that gives a parameter more than once. Model binding joins the values with commas
/// (<c>clientId=a&amp;clientId=b</c> would be the client "a,b") or takes one of them, and either answer would be about
/// something the caller did not ask for. No endpoint takes a list in its query string.
/// </summary>
internal static class RepeatedQueryValues
{
    public static ValueTask<object?> Refuse(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var repeated = context.HttpContext.Request.Query
            .Where(p => p.Value.Count > 1)
            .Select(p => $"{p.Key}: is given {p.Value.Count} times in the query string; give it once")
            .ToList();
        return repeated.Count == 0 ? next(context) : ValueTask.FromResult<object?>(Problems.Validation(repeated));
    }
}
