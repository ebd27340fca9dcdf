using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Infrastructure;
using Microsoft.AspNetCore.Authorization.Policy;
using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Options;

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
        var (detail, errors) = bad.StatusCode == StatusCodes.Status415UnsupportedMediaType
            ? (StatusDetails.UnsupportedMediaType(httpContext), null)
            : Explain(bad, BodyTypeInfo(httpContext), Handler(httpContext));
        var context = new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails =
            {
                Status = bad.StatusCode,
                Title = bad.StatusCode switch
                {
                    StatusCodes.Status413PayloadTooLarge => "Payload too large",
                    StatusCodes.Status415UnsupportedMediaType => "Unsupported media type",
                    _ => "Bad request",
                },
                Detail = detail,
            },
        };
        if (errors is not null)
        {
            context.ProblemDetails.Extensions["errors"] = errors;
        }

        return await problems.TryWriteAsync(context);
    }

    // The exception handler clears the endpoint before handlers run; its feature keeps the one that failed.
    private static Endpoint? FailedEndpoint(HttpContext context) => context.Features.Get<IExceptionHandlerFeature>()?.Endpoint ?? context.GetEndpoint();

    /// <summary>The handler of the endpoint, to read what its parameters declare (their <see cref="RangeAttribute"/>).</summary>
    private static MethodInfo? Handler(HttpContext context) => FailedEndpoint(context)?.Metadata.GetMetadata<MethodInfo>();

    /// <summary>The JSON contract of the body the endpoint reads, to name a field's allowed values or siblings.</summary>
    private static JsonTypeInfo? BodyTypeInfo(HttpContext context)
    {
        var type = FailedEndpoint(context)?.Metadata.GetMetadata<IAcceptsMetadata>()?.RequestType;
        var options = context.RequestServices.GetService<IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions>>()?.Value.SerializerOptions;
        return type is null || options is null ? null : options.GetTypeInfo(type);
    }

    /// <summary>
    /// What could not be read and where: the detail, and the field it was for with the reason, when known.
    /// <paramref name="body"/>, the contract of the body read, lets a reason list a field's allowed values or its siblings;
    /// <paramref name="handler"/>, the endpoint's handler, the range a query or route parameter declares.
    /// </summary>
    internal static (string Detail, Dictionary<string, string[]>? Errors) Explain(BadHttpRequestException bad, JsonTypeInfo? body = null, MethodInfo? handler = null)
    {
        ArgumentNullException.ThrowIfNull(bad);
        switch (bad.InnerException)
        {
            case JsonException json when Field(json.Path) is { } field && json is Api.JsonValueException:
                return For(field, json.Message);
            case JsonException json when Field(json.Path) is { } unmapped && json.Message.StartsWith("The JSON property '", StringComparison.Ordinal)
                && json.Message.Contains("could not be mapped", StringComparison.Ordinal):
                return For(unmapped, NotAField(body, Segments(json.Path!)));
            case JsonException json when json.Message.StartsWith("JSON deserialization for type '", StringComparison.Ordinal)
                && MissingRequired().Match(JsonSyntax.Reason(json)) is { Success: true } lacking:
                return Required(Field(json.Path), lacking.Groups["names"].Value);
            case JsonException json when Field(json.Path) is { } duplicate && json.Message.StartsWith("Duplicate property", StringComparison.Ordinal):
                return For(duplicate, "appears twice; give each field once");
            case JsonException json when json.Message.StartsWith("The JSON value could not be converted", StringComparison.Ordinal):
                return Field(json.Path) is { } wrongType
                    ? For(wrongType, WrongValue(Walk(body, Segments(json.Path!)), json.InnerException))
                    : ("The body is not the JSON object this endpoint reads.", null);
            case JsonException json:
                var at = json.LineNumber is { } line && json.BytePositionInLine is { } position ? $" (line {line + 1}, byte {position + 1})" : "";
                return ($"The body is not valid JSON: {JsonSyntax.Reason(json)}{at}.", null);
        }

        // An empty body, or the literal null, reads no object; .NET's own message speaks of services.
        if (bad.Message.Contains("but no body was provided", StringComparison.Ordinal))
        {
            return ("The body must be a JSON object.", null);
        }

        if (BindFailure().Match(bad.Message) is { Success: true } failed)
        {
            var name = failed.Groups["name"].Value;
            var declared = handler?.GetParameters().FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.Ordinal));
            return For(name, $"'{failed.Groups["value"].Value}' is not {DeclaredRange(declared) ?? Kind(failed.Groups["type"].Value)}");
        }

        if (MissingParameter().Match(bad.Message) is { Success: true } missing)
        {
            return For(missing.Groups["name"].Value, "is required");
        }

        return (bad.Message, null);
    }

    private static string NotAField(JsonTypeInfo? body, IReadOnlyList<string> segments)
    {
        var parent = segments.Count > 1 ? Resolve(body, segments.Take(segments.Count - 1).ToList()) : body;
        var owner = segments.Count > 1 ? string.Concat(segments.Take(segments.Count - 1).Select((s, i) => s.StartsWith('[') || i == 0 ? s : "." + s)) : "this request";
        return parent is { Kind: JsonTypeInfoKind.Object, Properties.Count: > 0 }
            ? $"is not a field of {owner}; the fields are: {string.Join(", ", parent.Properties.Select(p => p.Name))}"
            : $"is not a field of {owner}";
    }

    /// <summary>Why a value could not be read into <paramref name="target"/> (its contract and field), in the API's words.</summary>
    private static string WrongValue((JsonTypeInfo? Value, JsonPropertyInfo? Field) target, Exception? inner)
    {
        var type = target.Value?.Type;
        if (type is { IsEnum: true })
        {
            return $"is not one of the values this field takes: {string.Join(", ", EnumNames(type))}";
        }

        // A number token the field's numeric type cannot hold (too large, or a fraction for a whole number) fails as a
        // FormatException; the token itself is not kept, so the reason covers both.
        if (type is not null && inner is FormatException && (DeclaredRange(target.Field?.AttributeProvider) ?? Range(type)) is { } range)
        {
            return $"is not {range}";
        }

        // A string whose bytes are not UTF-8 fails while it is transcoded.
        if (type == typeof(string) && inner is InvalidOperationException { InnerException: System.Text.DecoderFallbackException })
        {
            return "is not valid UTF-8 text";
        }

        return "has a value of the wrong type for this field";
    }

    private static string? Range(Type type) => Type.GetTypeCode(type) switch
    {
        TypeCode.Byte => Whole(byte.MinValue, byte.MaxValue),
        TypeCode.Int16 => Whole(short.MinValue, short.MaxValue),
        TypeCode.UInt16 => Whole(ushort.MinValue, ushort.MaxValue),
        TypeCode.Int32 => Whole(int.MinValue, int.MaxValue),
        TypeCode.UInt32 => Whole(uint.MinValue, uint.MaxValue),
        TypeCode.Int64 => Whole(long.MinValue, long.MaxValue),
        TypeCode.UInt64 => Whole(ulong.MinValue, ulong.MaxValue),
        TypeCode.Single or TypeCode.Double or TypeCode.Decimal => "a finite number of ordinary size",
        _ => null,
    };

    private static string Whole(object min, object max) =>
        $"a whole number from {Convert.ToString(min, CultureInfo.InvariantCulture)} to {Convert.ToString(max, CultureInfo.InvariantCulture)}";

    /// <summary>
    /// The range a whole-number field or parameter declares with <see cref="RangeAttribute"/> (limit: 1 to 1000), which is
    /// what the caller can send; its type's range (Int32's) would name values the field refuses anyway.
    /// </summary>
    private static string? DeclaredRange(ICustomAttributeProvider? declared) =>
        declared?.GetCustomAttributes(typeof(RangeAttribute), inherit: true).FirstOrDefault() is RangeAttribute range
            ? Whole(range.Minimum, range.Maximum)
            : null;

    /// <summary>An enum's names as the API writes them: its JSON member name if it has one, else camelCase.</summary>
    private static IEnumerable<string> EnumNames(Type type) =>
        type.GetFields(BindingFlags.Public | BindingFlags.Static).Select(f =>
            f.GetCustomAttribute<JsonStringEnumMemberNameAttribute>()?.Name ?? JsonNamingPolicy.CamelCase.ConvertName(f.Name));

    /// <summary>The contract of the value at <paramref name="segments"/> under <paramref name="body"/>; none if the path leaves it.</summary>
    private static JsonTypeInfo? Resolve(JsonTypeInfo? body, IReadOnlyList<string> segments) => Walk(body, segments).Value;

    /// <summary>
    /// The contract of the value at <paramref name="segments"/> under <paramref name="body"/>, and the field that holds
    /// it (none for an array item or a dictionary entry), whose attributes say more than its type.
    /// </summary>
    private static (JsonTypeInfo? Value, JsonPropertyInfo? Field) Walk(JsonTypeInfo? body, IReadOnlyList<string> segments)
    {
        var info = body;
        JsonPropertyInfo? property = null;
        foreach (var segment in segments)
        {
            if (info is null)
            {
                return (null, null);
            }

            Type? type;
            if (segment.StartsWith('[') || info.Kind == JsonTypeInfoKind.Dictionary)
            {
                property = null;
                type = info.ElementType;
            }
            else
            {
                property = info.Properties.FirstOrDefault(p => string.Equals(p.Name, segment, info.Options.PropertyNameCaseInsensitive
                    ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal));
                type = property?.PropertyType;
            }

            if (type is null)
            {
                return (null, null);
            }

            info = info.Options.GetTypeInfo(Nullable.GetUnderlyingType(type) ?? type);
        }

        return (info, property);
    }

    /// <summary><c>$.schedule.day</c> as ["schedule", "day"]; <c>$.queries[1].from</c> as ["queries", "[1]", "from"].</summary>
    private static List<string> Segments(string path) =>
        [.. PathSegment().Matches(path).Select(m => m.Groups["name"].Success ? m.Groups["name"].Value
            : m.Groups["quoted"].Success ? m.Groups["quoted"].Value.Replace("''", "'", StringComparison.Ordinal) : m.Value)];

    /// <summary>The fields an object lacks ("'integration', 'archive'"), each by its path from the body.</summary>
    private static (string, Dictionary<string, string[]>?) Required(string? parent, string names)
    {
        var fields = QuotedName().Matches(names).Select(m => parent is null ? m.Groups["name"].Value : $"{parent}.{m.Groups["name"].Value}").ToList();
        return fields.Count == 0
            ? ("The body lacks a field it must have.", null)
            : ($"{string.Join(", ", fields)}: {(fields.Count == 1 ? "is" : "are")} required.", fields.ToDictionary(f => f, _ => new[] { "is required" }));
    }

    private static (string, Dictionary<string, string[]>?) For(string field, string reason) => ($"{field}: {reason}.", new() { [field] = [reason] });

    /// <summary>"from" for <c>$.from</c>, "queries[1].from" for <c>$.queries[1].from</c>; none for the body itself.</summary>
    private static string? Field(string? path) =>
        path is null || path == "$" ? null : path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path.TrimStart('$');

    private static string Kind(string type) => type.Replace("Nullable<", "", StringComparison.Ordinal).TrimEnd('>') switch
    {
        "Int16" or "short" => Whole(short.MinValue, short.MaxValue),
        "Int32" or "int" => Whole(int.MinValue, int.MaxValue),
        "Int64" or "long" => Whole(long.MinValue, long.MaxValue),
        "Double" or "Single" or "Decimal" or "double" or "decimal" => "a number",
        "Boolean" or "bool" => "true or false",
        "Guid" => "a GUID",
        _ => "a value this parameter takes",
    };

    [GeneratedRegex("missing required properties including: (?<names>.*)$", RegexOptions.Singleline)]
    private static partial Regex MissingRequired();

    [GeneratedRegex("'(?<name>[^']+)'")]
    private static partial Regex QuotedName();

    [GeneratedRegex(@"\.(?<name>[^.\[]+)|\[\d+\]|\['(?<quoted>(?:[^']|'')*)'\]")]
    private static partial Regex PathSegment();

    [GeneratedRegex("^Failed to bind parameter \"(?<type>.+) (?<name>[^ \"]+)\" from \"(?<value>.*)\"\\.$")]
    private static partial Regex BindFailure();

    [GeneratedRegex("^Required parameter \"(?<type>.+) (?<name>[^ \"]+)\" was not provided")]
    private static partial Regex MissingParameter();
}

/// <summary>A reason for ProblemDetails that only have a status (written by status code pages), so every error says why.</summary>
public static class StatusDetails
{
    /// <summary>Most characters of one detail or error message; past it the text is cut and says how much was left out.</summary>
    public const int MaxMessageLength = 1000;

    /// <summary>
    /// Keeps a ProblemDetails a reasonable size and wording whatever wrote it: details and error messages that echo a
    /// long input (a 100,000-character code) are cut, and the framework's own titles ("Not Found") are in sentence
    /// case like the product's.
    /// </summary>
    public static void Tidy(Microsoft.AspNetCore.Mvc.ProblemDetails problem)
    {
        ArgumentNullException.ThrowIfNull(problem);
        problem.Detail = Capped(problem.Detail);
        if (problem is HttpValidationProblemDetails validation)
        {
            foreach (var (field, messages) in validation.Errors)
            {
                validation.Errors[field] = [.. messages.Select(m => Capped(m)!)];
            }
        }

        if (problem.Status is { } status && problem.Title is { Length: > 1 } title
            && string.Equals(title, Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status), StringComparison.Ordinal))
        {
            problem.Title = title[..1] + title[1..].ToLowerInvariant();
        }
    }

    /// <summary>The text cut at <see cref="MaxMessageLength"/>, saying how much was left out.</summary>
    public static string? Capped(string? text) => text is { Length: > MaxMessageLength }
        ? $"{text[..MaxMessageLength]}… ({text.Length - MaxMessageLength} more characters)"
        : text;

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
            StatusCodes.Status415UnsupportedMediaType => UnsupportedMediaType(context),
            _ => null,
        };
    }

    /// <summary>The detail of a validation problem: its <c>errors</c> say which fields and why.</summary>
    public const string InvalidFields = "Some fields are invalid; see errors.";

    /// <summary>
    /// What to send instead: the media types the endpoint declares it accepts (JSON unless it says otherwise, as the
    /// ingest endpoints do for CSV), and what the request had.
    /// </summary>
    public static string UnsupportedMediaType(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var endpoint = context.Features.Get<IExceptionHandlerFeature>()?.Endpoint ?? context.GetEndpoint();
        var accepted = endpoint?.Metadata.GetMetadata<IAcceptsMetadata>()?.ContentTypes is { Count: > 0 } declared
            ? declared.Distinct(StringComparer.OrdinalIgnoreCase).ToList()
            : ["application/json"];
        var send = accepted.Count == 1
            ? $"Send the body as {accepted[0]} (Content-Type: {accepted[0]})"
            : $"Send the body as one of {string.Join(", ", accepted)}, named in Content-Type";
        var had = string.IsNullOrEmpty(context.Request.ContentType)
            ? "this request has no Content-Type"
            : $"this request's is '{context.Request.ContentType}'";
        return $"{send}; {had}.";
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
