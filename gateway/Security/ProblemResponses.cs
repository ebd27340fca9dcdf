using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Infrastructure;
using Microsoft.AspNetCore.Authorization.Policy;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Diagnostics;

namespace AnalyticsEngine.Gateway.Security;

/// <summary>A 403 for a missing role says which roles would do, as ProblemDetails like every other error.</summary>
public sealed class ProblemAuthorizationResultHandler(IProblemDetailsService problems) : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(authorizeResult);
        if (!authorizeResult.Forbidden)
        {
            // Success goes on; a challenge answers 401 with WWW-Authenticate, and status code pages add the ProblemDetails body.
            await _default.HandleAsync(next, context, policy, authorizeResult);
            return;
        }

        var needed = authorizeResult.AuthorizationFailure?.FailedRequirements.OfType<RolesAuthorizationRequirement>()
            .SelectMany(r => r.AllowedRoles).Distinct().ToList() ?? [];
        context.Response.StatusCode = StatusCodes.Status403Forbidden;
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails =
            {
                Status = StatusCodes.Status403Forbidden,
                Title = "Forbidden",
                Detail = needed.Count > 0
                    ? $"This needs one of the roles {string.Join(", ", needed)}; your token does not carry any of them."
                    : "Your token does not allow this.",
            },
        });
    }
}

/// <summary>
/// A body or parameter that cannot be read (malformed JSON, wrong types, too large) answers its 4xx with the
/// reason, instead of a bare status code: for a value that cannot be read, the field it was for (its JSON path, or the
/// query parameter) in <c>errors</c>, as a validation problem names it, and why, without .NET's type names.
/// </summary>
public sealed partial class BadRequestExceptionHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        if (exception is not BadHttpRequestException bad)
        {
            return false;
        }

        httpContext.Response.StatusCode = bad.StatusCode;
        var (detail, errors) = Explain(bad);
        var context = new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails =
            {
                Status = bad.StatusCode,
                Title = bad.StatusCode == StatusCodes.Status413PayloadTooLarge ? "Payload too large" : "Bad request",
                Detail = detail,
            },
        };
        if (errors is not null)
        {
            context.ProblemDetails.Extensions["errors"] = errors;
        }

        return await problems.TryWriteAsync(context);
    }

    /// <summary>What could not be read and where: the detail, and the field it was for with the reason, when known.</summary>
    internal static (string Detail, Dictionary<string, string[]>? Errors) Explain(BadHttpRequestException bad)
    {
        ArgumentNullException.ThrowIfNull(bad);
        switch (bad.InnerException)
        {
            case JsonException json when Field(json.Path) is { } field && json is Api.JsonValueException:
                return For(field, json.Message);
            case JsonException json when json.Message.StartsWith("The JSON value could not be converted", StringComparison.Ordinal):
                return Field(json.Path) is { } wrongType
                    ? For(wrongType, "has a value of the wrong type for this field")
                    : ("The body is not the JSON object this endpoint reads.", null);
            case JsonException json:
                var at = json.LineNumber is { } line && json.BytePositionInLine is { } position ? $" (line {line + 1}, byte {position + 1})" : "";
                return ($"The body is not valid JSON: {PositionSuffix().Replace(json.Message, "")}{at}.", null);
        }

        if (BindFailure().Match(bad.Message) is { Success: true } failed)
        {
            return For(failed.Groups["name"].Value, $"'{failed.Groups["value"].Value}' is not {Kind(failed.Groups["type"].Value)}");
        }

        if (MissingParameter().Match(bad.Message) is { Success: true } missing)
        {
            return For(missing.Groups["name"].Value, "is required");
        }

        return (bad.Message, null);
    }

    private static (string, Dictionary<string, string[]>?) For(string field, string reason) => ($"{field}: {reason}.", new() { [field] = [reason] });

    /// <summary>"from" for <c>$.from</c>, "queries[1].from" for <c>$.queries[1].from</c>; none for the body itself.</summary>
    private static string? Field(string? path) =>
        path is null || path == "$" ? null : path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path.TrimStart('$');

    private static string Kind(string type) => type.Replace("Nullable<", "", StringComparison.Ordinal).TrimEnd('>') switch
    {
        "Int16" or "Int32" or "Int64" or "int" or "long" => "a whole number",
        "Double" or "Single" or "Decimal" or "double" or "decimal" => "a number",
        "Boolean" or "bool" => "true or false",
        "Guid" => "a GUID",
        _ => "a value this parameter takes",
    };

    [GeneratedRegex(@"\s*Path: .*$")]
    private static partial Regex PositionSuffix();

    [GeneratedRegex("^Failed to bind parameter \"(?<type>.+) (?<name>[^ \"]+)\" from \"(?<value>.*)\"\\.$")]
    private static partial Regex BindFailure();

    [GeneratedRegex("^Required parameter \"(?<type>.+) (?<name>[^ \"]+)\" was not provided")]
    private static partial Regex MissingParameter();
}

/// <summary>A reason for ProblemDetails that only have a status (written by status code pages), so every error says why.</summary>
public static class StatusDetails
{
    public static string? For(int? status, HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return status switch
        {
            StatusCodes.Status400BadRequest => "The request could not be read.",
            StatusCodes.Status401Unauthorized => Unauthorized(context),
            StatusCodes.Status403Forbidden => "Your token does not allow this.",
            StatusCodes.Status404NotFound => $"Nothing is at {context.Request.Path}.",
            StatusCodes.Status405MethodNotAllowed => $"{context.Request.Method} is not allowed on {context.Request.Path}.",
            StatusCodes.Status413PayloadTooLarge => "The body is larger than this endpoint accepts.",
            StatusCodes.Status415UnsupportedMediaType => "Send the body as application/json (Content-Type: application/json).",
            _ => null,
        };
    }

    private static string Unauthorized(HttpContext context)
    {
        const string Needed = "A valid bearer token is required (Authorization: Bearer <jwt>; access_token=<jwt> on /hubs).";
        var challenge = context.Response.Headers.WWWAuthenticate.ToString();
        var start = challenge.IndexOf("error_description=\"", StringComparison.Ordinal);
        if (start < 0)
        {
            return Needed;
        }

        start += "error_description=\"".Length;
        var end = challenge.IndexOf('"', start);
        return end > start ? $"{Needed} {challenge[start..end]}" : Needed;
    }
}

/// <summary>
/// Refuses a body whose declared length is above the endpoint's limit before anything reads it; Kestrel's own limit
/// (MaxRequestBodySize, set from the same metadata) covers bodies sent without a length.
/// </summary>
public static class BodySizeLimits
{
    public static IApplicationBuilder UseBodySizeLimits(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<Microsoft.AspNetCore.Http.Metadata.IRequestSizeLimitMetadata>() is { MaxRequestBodySize: { } limit }
            && context.Request.ContentLength > limit)
        {
            context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
            await context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
            {
                HttpContext = context,
                ProblemDetails =
                {
                    Status = StatusCodes.Status413PayloadTooLarge,
                    Title = "Payload too large",
                    Detail = $"The body is {context.Request.ContentLength} bytes; {context.Request.Path} accepts at most {limit}.",
                },
            });
            return;
        }

        await next(context);
    });
}
